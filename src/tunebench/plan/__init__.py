"""`tunebench plan`: what a study will cost, predicted before anything trains."""
