"""What the decoder families share: prompt + continuation sequences and their log-likelihoods
(`sequences`), scoring and perplexity (`scoring`), the forgetting measure (`forgetting`) and the
recipe of a run (`recipe`)."""
