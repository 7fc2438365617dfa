"""koji CLI plugin: ``koji stream-build build|watch|status|cancel|list`` for stream sets.

Install into a directory named in the koji CLI's ``plugin_paths`` (or the
``koji_cli_plugins`` package). A thin file: it activates the CLI's own session (its
profile, its login) and hands the arguments to ``stream-build koji``'s commands
(:func:`streambuild.koji_cli_main`), so ``koji stream-build build --help`` lists the
same options, and the koji CLI's ``-p``, ``-c``, ``-q`` and ``-d`` mean what they mean
for every koji command.

    koji stream-build build [--target T] [--nowait] [--mode auto|plugin|sidetag] [MANIFEST]
    koji stream-build watch|status|cancel [MANIFEST]
    koji stream-build list [--user USER]
"""

from __future__ import absolute_import

import sys

from koji.plugin import export_cli
from koji_cli.lib import activate_session

COMMANDS = ("build", "watch", "status", "cancel", "list")


@export_cli
def handle_stream_build(goptions, session, args):
    "[build] Build a stream-build manifest as chained scratch builds"
    if not args or args[0] not in COMMANDS + ("-h", "--help"):
        sys.stderr.write("usage: koji stream-build {%s} [options] [MANIFEST]\n" % "|".join(COMMANDS))
        sys.stderr.write("koji stream-build: error: give one of: %s\n" % ", ".join(COMMANDS))
        return 2
    from streambuild import koji_cli_main

    if args[0] not in ("-h", "--help"):
        activate_session(session, goptions)
    return koji_cli_main(args, goptions, session)
