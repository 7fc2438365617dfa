"""koji CLI plugin: ``koji stream-build build|watch|status|cancel|list`` for stream sets.

Install into a directory named in the koji CLI's ``plugin_paths`` (or the
``koji_cli_plugins`` package). A thin file: it parses arguments the koji CLI's way,
activates the CLI's own session (its profile, its login) and hands both to
stream-build's koji backend (:mod:`streambuild.koji.client`).

    koji stream-build build [--target T] [--nowait] [--mode auto|plugin|sidetag] [MANIFEST]
    koji stream-build watch|status|cancel [MANIFEST]
    koji stream-build list [--user USER]
"""

from __future__ import absolute_import

from optparse import OptionParser

from koji.plugin import export_cli
from koji_cli.lib import activate_session

COMMANDS = ("build", "watch", "status", "cancel", "list")


@export_cli
def handle_stream_build(goptions, session, args):
    "[build] Build a stream-build manifest as chained scratch builds"
    usage = "%prog stream-build {" + "|".join(COMMANDS) + "} [options] [MANIFEST]"
    parser = OptionParser(usage=usage)
    parser.add_option("--target", help="Build target (default: the profile's streambuild_target)")
    parser.add_option("--nowait", action="store_true", help="Don't wait for the stream to finish")
    parser.add_option("--mode", default="auto", choices=("auto", "plugin", "sidetag"),
                      help="plugin, sidetag, or auto (what the hub offers)")
    parser.add_option("--workdir", help="stream-build work directory (default: .stream-build beside the manifest)")
    parser.add_option("--user", help="list: whose streams")
    parser.add_option("--json", action="store_true", help="Machine-readable output")
    (opts, args) = parser.parse_args(args)
    if not args or args[0] not in COMMANDS:
        parser.error("give one of: " + ", ".join(COMMANDS))
    command, rest = args[0], args[1:]
    if len(rest) > 1:
        parser.error("at most one manifest")
    manifest = rest[0] if rest else "stream-build.yaml"

    from streambuild.koji.commands import run_for_koji_cli

    activate_session(session, goptions)
    options = dict(vars(opts), config=getattr(goptions, "configFile", None))  # koji -c FILE: the same profile file
    return run_for_koji_cli(command, manifest, options, getattr(goptions, "profile", None) or "koji", session)
