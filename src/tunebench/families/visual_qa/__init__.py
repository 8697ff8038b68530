"""Visual question answering: an image-text model answers questions about images (seed 001's
multimodal half), for users with vision-language weights and data on disk or the Hub.

Under construction (issue 23): the data (data.py), the scoring (answers.py) and the training
batches and greedy answers (batches.py: the processor's chat prompt, loss on the answer alone) are here and
tested, on a tiny LLaVA in the tests; the family joins the registry when its run path (model
loading, methods on the language model only, the connector setting, generation) lands.
"""
