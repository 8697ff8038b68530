"""One exception type for mistakes a user can fix (bad config, bad data, missing asset).

The CLI prints its message alone and exits with code 2; anything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """A problem in what the user gave us; the message names the field, file, row or column."""
