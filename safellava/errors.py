"""The error type for problems the user fixes by changing their input (a recipe, a config, a file).

The CLI and the training entry points print these as one clear message, without a traceback.
"""


class UserError(Exception):
    """Bad input: the message names the file/key/record at fault and says what to do."""
