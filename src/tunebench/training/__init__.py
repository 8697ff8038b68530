"""Training: tokenised batches, the accelerate loop, metrics and cost metering."""
