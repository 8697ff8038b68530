"""Visual question answering: an image-text model answers questions about images (seed 001's
multimodal half), for users with vision-language weights and data on disk or the Hub.

Under construction (issue 23): the data (data.py) and the scoring (answers.py) are here and
tested; the family joins the registry when its run path (model, processor, methods on the
language model, connector setting) lands.
"""
