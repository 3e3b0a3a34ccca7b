"""One exception type for every input problem a user can fix.

Scripts catch :class:`DQError` and print its message without a traceback, so the
message must say *where* (file, row, config key) and *what to do*.
"""


class DQError(Exception):
    """A problem with the user's data or configuration, with a message that names the fix."""
