"""Keep the terminal for tunebench's own progress bars and messages."""

import os
import warnings


def quiet_libraries() -> None:
    """No library chatter about expected situations (transformers' loading bars and notes)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers 5 warns about names peft 0.21 still uses (`past_key_values` for prefix
    # tuning's cache, `is_gradient_checkpointing`): API churn between libraries, not the user's
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
