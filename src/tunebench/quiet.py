"""Keep the terminal for tunebench's own progress bars and messages."""

import os


def quiet_libraries() -> None:
    """No library chatter about expected situations (transformers' loading bars and notes)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
