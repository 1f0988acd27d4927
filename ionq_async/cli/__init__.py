"""The ``ionq-async`` command: every endpoint from a shell, for people and for programs.

Commands: ``backends``, ``whoami``, ``submit FILE...``, ``run FILE...``, ``status ID``,
``result ID``, ``cost ID``, ``estimate``, ``jobs``, ``cancel ID...``, ``emulator`` and
``demo``. Tables are drawn with rich; ``--json`` on any command prints machine-readable
JSON on stdout and nothing else. Progress bars go to stderr, and only to a terminal.

Configuration: ``--api-key`` or ``IONQ_API_KEY`` (never printed), ``--base-url`` or
``IONQ_API_URL`` (plain ``http://`` only to loopback, unless ``--allow-insecure-http``), and
``--emulator`` to aim any command at an in-process emulator (which brings its own key).
An error prints one line, ``ionq-async: <ErrorType>: <message>``, on stderr; ``--debug``
adds the traceback.

Exit codes::

    0    success
    1    a job failed or was canceled, or did not finish within --timeout
    2    usage: an unknown command or option, or a setting that is not allowed
    3    API or authentication: no API key, a rejected key, an unknown job id, or any
         other error answer from the API (or an answer that breaks the API's promises)
    4    network: the server could not be reached, the connection dropped, a timeout
    5    invalid input: a file that cannot be read, is not JSON or holds an invalid
         circuit, or a value the API would reject (shots, metadata)
    6    not confirmed: QPU jobs not sent because no one confirmed their projected cost
         (off a terminal without --yes, or not answered yes at the prompt)
    7    over budget: the projected cost is over --max-cost (nothing sent), or circuits
         were left unsent so that the running cost would not cross it
    70   internal error: a bug in ionq-async (run with --debug and report it)
    130  interrupted (Ctrl-C)

The package, each module importing only those above it in this list: ``exit_codes``
(the codes and the errors that choose them), ``render`` (JSON and rich tables),
``inputs`` (reading job files), ``options`` (job options from the command line and
payload files), ``parser`` (argparse), ``connect`` (the Client a command uses),
``runner`` (``run_many`` behind a progress bar), ``spending`` (the projected cost of QPU
jobs, the budget and the confirmation before sending), ``commands`` (the single-request
commands), ``run`` (the ``run`` command), ``demo`` and ``app`` (``main``).

QPU jobs are priced before they are sent (one line on stderr); on a terminal the command
asks before spending, ``--yes`` skips the question, and off a terminal it refuses without
``--yes`` (exit 6). ``--max-cost`` is a budget, ``--estimate-only`` prices and exits, and
``estimate FILE...`` prices a whole batch of files.
"""

from __future__ import annotations

from .app import main
from .exit_codes import ExitCode, exit_code_for
from .parser import build_parser

__all__ = ["ExitCode", "build_parser", "exit_code_for", "main"]
