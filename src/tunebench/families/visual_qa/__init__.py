"""Visual question answering: an image-text model answers questions about images (seed 001's
multimodal half), for users with vision-language weights and data on disk or the Hub.

Under construction (issue 23). Here and tested, on tiny models in the tests: the data
(data.py), the scoring (answers.py), the training batches and greedy answers (batches.py: the
processor's chat prompt, the loss on the answer alone), in models/image_text.py the model
loading and its three parts with per-part parameter counts, and methods applied to the
language model alone (`Method.apply_inside`; lora, ia3, last_n, full tested). The family
joins the registry when its run path lands: the family class and task config, the connector
setting, which methods apply (declared kinds), multiple-choice scoring, the study and docs.
"""
