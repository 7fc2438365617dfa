"""The RPM packaging, man pages and shell completion: built and checked with the real tools.

The SRPM is built on this (Debian) host with rpmbuild -bs from a ``git archive`` of the
work tree, as Fedora's tooling builds it from a release tarball; rpmlint checks the spec
and the SRPM. The binary packages need Fedora's build macros (``%pyproject_*``, ``%cmake``)
and DNF5's headers, so they are built only where those exist (see README).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from conftest import ROOT

SPEC = ROOT / "packaging" / "stream-build.spec"


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def worktree_tarball(dest: Path, prefix: str) -> Path:
    """``git archive`` of the work tree as it is (tracked and new files, not ignored ones), index untouched."""
    index = dest / "archive-index"
    env = dict(os.environ, GIT_INDEX_FILE=str(index))
    run = lambda *a: subprocess.run(["git", *a], cwd=ROOT, env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("read-tree", "--empty")
    run("add", "-A")
    tree = run("write-tree").stdout.strip()
    tarball = dest / f"{prefix}.tar.gz"
    run("archive", "--format=tar.gz", f"--prefix={prefix}/", "-o", str(tarball), tree)
    index.unlink()
    return tarball


@pytest.mark.integration
@pytest.mark.skipif(not shutil.which("rpmbuild"), reason="needs rpmbuild (Debian package rpm)")
def test_the_srpm_builds_and_rpmlint_finds_nothing(tmp_path):
    name = f"stream-build-{version()}"
    tarball = worktree_tarball(tmp_path, name)
    listed = subprocess.run(["tar", "tzf", str(tarball)], check=True, capture_output=True, text=True).stdout.split()
    for path in ("pyproject.toml", "packaging/stream-build.spec", "plugins/dnf5/stream_build_plugin.cpp",
                 "plugins/dnf/dnf_stream_build.py", "core/streambuild/cli.py"):
        assert f"{name}/{path}" in listed
    assert not any("/.venv/" in p or "/.stream-build/" in p for p in listed)

    build = subprocess.run(
        ["rpmbuild", "-bs", "--define", f"_topdir {tmp_path}", "--define", f"_sourcedir {tmp_path}",
         "--define", f"_srcrpmdir {tmp_path}", str(SPEC)],
        capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    srpm = tmp_path / f"{name}-1.src.rpm"
    assert srpm.exists(), build.stdout
    files = subprocess.run(["rpm", "-qpl", str(srpm)], check=True, capture_output=True, text=True).stdout.split()
    assert sorted(files) == sorted([f"{name}.tar.gz", "stream-build.spec"])
    requires = subprocess.run(["rpm", "-qpR", str(srpm)], check=True, capture_output=True, text=True).stdout
    for needed in ("python3-devel", "pkgconfig(libdnf5)", "pkgconfig(libdnf5-cli)", "dnf5-devel", "cmake", "gcc-c++"):
        assert needed in requires

    if not shutil.which("rpmlint"):
        pytest.skip("rpmlint is not installed (Debian and Fedora: package rpmlint); the SRPM itself was built")
    lint = subprocess.run(
        ["rpmlint", "-c", str(ROOT / "packaging" / "rpmlint-fedora.toml"),
         "-r", str(ROOT / "packaging" / "stream-build.rpmlintrc"), str(SPEC), str(srpm)],
        capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert re.search(r"1 packages and 1 specfiles checked; 0 errors, 0 warnings", lint.stdout), lint.stdout


def test_the_spec_matches_the_project():
    text = SPEC.read_text()
    assert re.search(rf"^Version:\s+{re.escape(version())}$", text, re.M)
    # every front-end and Koji plugin file is installed into its host's plugin directory
    shipped = sorted((ROOT / "plugins").rglob("*.py")) + sorted(
        p for p in (ROOT / "koji_hub_plugin").iterdir() if p.is_file() and p.suffix in (".py", ".conf"))
    for path in shipped:
        assert f" {path.relative_to(ROOT)} %{{buildroot}}" in text, f"{path.name} is not installed by the spec"
    for needed in ("%pyproject_buildrequires", "%pyproject_wheel", "%pyproject_install", "%pyproject_save_files",
                   "Provides:       dnf-command(stream-build)", "Provides:       dnf5-command(stream-build)",
                   "%{python3_sitelib}/dnf-plugins/", "%{_libdir}/dnf5/plugins/", "%{_prefix}/lib/koji-hub-plugins/",
                   "%{_prefix}/lib/koji-builder-plugins/", "%config(noreplace) %{_sysconfdir}/koji-hub/plugins/streambuild.conf",
                   "make-manpages.py", "completion bash"):
        assert needed in text, needed
    packages = re.findall(r"^%package -n (\S+)", text, re.M)
    assert packages == ["python3-streambuild", "dnf-plugin-stream-build", "dnf5-plugin-stream-build", "fedpkg-stream",
                        "koji-hub-plugin-stream-build", "koji-builder-plugin-stream-build",
                        "python3-koji-cli-plugin-stream-build"]
    for package in packages:
        assert re.search(rf"^%files -n {re.escape(package)}\b", text, re.M), f"no %files for {package}"


def _commands(group: click.Group, ctx: click.Context, path=()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield path + (name,)
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx), path + (name,))


def test_man_pages_are_generated_for_every_command(tmp_path):
    from streambuild.cli import cli

    out = subprocess.run([sys.executable, str(ROOT / "packaging" / "make-manpages.py"), "--output", str(tmp_path),
                          "--date", "2026-01-02"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    pages = {p.name for p in tmp_path.glob("*.[18]")}
    expected = {"stream-build.1", "dnf-stream-build.8"} | {
        "-".join(("stream-build",) + c) + ".1" for c in _commands(cli, click.Context(cli))}
    assert pages == expected
    install = (tmp_path / "stream-build-install.1").read_text()
    assert install.startswith('.TH "STREAM-BUILD-INSTALL" "1" "2026-01-02"')
    assert "\\-\\-output" in install and "\\-\\-assumeno" in install
    main = (tmp_path / "stream-build.1").read_text()
    assert ".SH EXIT STATUS" in main and "a stream policy denied the set" in main
    environment = main[main.index(".SH ENVIRONMENT"):main.index(".SH FILES")]
    for variable in sorted(environment_variables()):
        assert f"\\fB{variable.replace('_', '_')}\\fR" in environment.replace("\\-", "-"), f"{variable} is not in ENVIRONMENT"
    files = main[main.index(".SH FILES"):main.index(".SH SEE ALSO")]
    for path in ("stream-build.yaml", "stream-build.lock", ".stream-build/", "forges.toml"):
        assert path in files.replace("\\-", "-")
    dnf_page = (tmp_path / "dnf-stream-build.8").read_text().replace("\\-", "-")
    assert dnf_page.startswith('.TH "DNF-STREAM-BUILD" "8" "2026-01-02"')
    for subcommand in dnf_plugin_subcommands():
        assert f"\\fB{subcommand}\\fR [OPTIONS]" in dnf_page
    install_part = dnf_page[dnf_page.index("\\fBinstall\\fR"):dnf_page.index("\\fBplan\\fR")]
    assert "--install-target" in install_part and "--assumeno" not in install_part  # DNF's own option
    if shutil.which("groff"):
        for page in sorted(tmp_path.glob("*.[18]")):
            check = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
            assert check.returncode == 0 and check.stderr == "", f"{page.name}: {check.stderr}"
    bad = subprocess.run([sys.executable, str(ROOT / "packaging" / "make-manpages.py"), "--output", str(tmp_path),
                          "--date", "yesterday"], capture_output=True, text=True)
    assert bad.returncode == 2 and "is not YYYY-MM-DD" in bad.stderr


def environment_variables() -> set:
    """Every STREAM_BUILD_* (and STREAMBUILD_*) variable the code reads, found in the sources."""
    found = set()
    for path in list((ROOT / "core").rglob("*.py")) + list((ROOT / "plugins").rglob("*.py")) + \
            list((ROOT / "koji_hub_plugin").rglob("*.py")):
        found |= set(re.findall(r"_?STREAM_?BUILD_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])", path.read_text()))
    return found  # (prefixes such as "STREAM_BUILD_DNF5_" + name are not names: their names are spelled out)


def dnf_plugin_subcommands() -> tuple:
    import ast

    tree = ast.parse((ROOT / "plugins" / "dnf" / "dnf_stream_build.py").read_text())
    (value,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "SUBCOMMANDS"]
    return ast.literal_eval(value)


def test_the_dnf_page_names_the_plugins_subcommands():
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import importlib

        pages = importlib.import_module("make-manpages")
    finally:
        sys.path.pop(0)
    assert pages.DNF_SUBCOMMANDS == dnf_plugin_subcommands()
    assert {name for name, _ in pages.ENVIRONMENT} == environment_variables()


def test_shell_completion_scripts_complete_the_real_commands():
    def run(*args: str, env=None):
        return subprocess.run([sys.executable, "-m", "streambuild.cli", *args], capture_output=True, text=True,
                              env={**os.environ, **(env or {})})

    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        script = run("completion", shell)
        assert script.returncode == 0 and marker in script.stdout and "_STREAM_BUILD_COMPLETE" in script.stdout
    # what the bash script asks the program for when the user types 'stream-build ins<TAB>'
    answer = run(env={"_STREAM_BUILD_COMPLETE": "bash_complete", "COMP_WORDS": "stream-build ins", "COMP_CWORD": "1"})
    assert answer.stdout.split() == ["plain,install"]
    options = run(env={"_STREAM_BUILD_COMPLETE": "bash_complete", "COMP_WORDS": "stream-build install --out",
                       "COMP_CWORD": "2"})
    assert options.stdout.split() == ["plain,--output"]
    # values: backends, install targets and forges, from the registry and the config
    for words, values in (("stream-build build --backend ", ["auto", "koji", "local", "mock"]),
                          ("stream-build install --install-target ", ["container", "host", "installroot"]),
                          ("stream-build branch request p 1 --forge ", ["forgejo", "git", "pagure"])):
        answer = run(env={"_STREAM_BUILD_COMPLETE": "bash_complete", "COMP_WORDS": words,
                          "COMP_CWORD": str(len(words.split())), "STREAM_BUILD_CONFIG": os.devnull})
        assert answer.stdout.split() == [f"plain,{v}" for v in values], words
    if shutil.which("bash"):
        loaded = subprocess.run(["bash", "-c", f'eval "$({sys.executable} -m streambuild.cli completion bash)"; '
                                 "complete -p stream-build"], capture_output=True, text=True)
        assert loaded.returncode == 0 and "_stream_build_completion" in loaded.stdout
    bad = run("completion", "tcsh")
    assert bad.returncode == 2 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in bad.stderr


@pytest.mark.skipif(
    subprocess.run(["pkg-config", "--exists", "libdnf5", "libdnf5-cli"], capture_output=True).returncode != 0
    if shutil.which("pkg-config") else True,
    reason="DNF5's development files (dnf5-devel, libdnf5-devel, libdnf5-cli-devel) are not installed: "
           "Debian 12 has no DNF5; the spec builds the plugin on Fedora",
)
def test_the_dnf5_plugin_compiles(tmp_path):
    configure = subprocess.run(["cmake", "-S", str(ROOT / "plugins" / "dnf5"), "-B", str(tmp_path)],
                               capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    build = subprocess.run(["cmake", "--build", str(tmp_path)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    assert (tmp_path / "stream_build_cmd_plugin.so").exists()
