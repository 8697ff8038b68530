"""Models: pretrained backbones (`backbones`), the heads every method trains with (`heads`) and
the parts of a transformer that methods, the prefix cache and metering look for (`blocks`)."""
