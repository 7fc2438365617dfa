// dnf5 stream-build: the DNF5 command plugin of stream-build.
//
// DNF5 command plugins are C++ only (its Python bindings cannot add commands), so this
// plugin is deliberately trivial: it registers `stream-build` and its subcommands with
// DNF5's argument parser, collects what the user typed after the subcommand, and execs
//
//     STREAM_BUILD_PYTHON -m streambuild.dnf5_shim SUBCOMMAND [ARG ...]
//
// with DNF5's global options in the environment (STREAM_BUILD_DNF5_INSTALLROOT,
// STREAM_BUILD_DNF5_RELEASEVER, STREAM_BUILD_DNF5_ASSUMEYES, STREAM_BUILD_DNF5_ASSUMENO,
// STREAM_BUILD_DNF5_QUIET). Each subcommand offers only its own options.
// core/streambuild/dnf5_shim.py maps those onto the stream-build command line; every
// decision is made there, in Python, where it is tested.
//
// Written against DNF5's public plugin API (dnf5/iplugin.hpp, plugin API 2.0, as the
// plugins in dnf5-plugins/ use it). It is built by packaging/stream-build.spec on
// Fedora; Debian has no DNF5 headers, so it is not compiled in this project's CI.
//
// SPDX-License-Identifier: MIT

#include <dnf5/context.hpp>
#include <dnf5/iplugin.hpp>
#include <libdnf5-cli/argument_parser.hpp>
#include <libdnf5/conf/vars.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef STREAM_BUILD_PYTHON
#define STREAM_BUILD_PYTHON "/usr/bin/python3"
#endif

using namespace dnf5;

namespace {

constexpr const char * PLUGIN_NAME{"stream_build"};
constexpr PluginVersion PLUGIN_VERSION{.major = 0, .minor = 1, .micro = 0};
constexpr PluginAPIVersion REQUIRED_PLUGIN_API_VERSION{.major = 2, .minor = 0};

constexpr const char * attrs[]{"author.name", "description", nullptr};
constexpr const char * attrs_value[]{"stream-build", "stream-build command: hands over to the Python CLI."};

// The options of the Python command line accepted after a subcommand, handed on as typed. Each is
// the option of the same name of `stream-build SUBCOMMAND` (core/streambuild/options.py); DNF5's own
// global options (-y, --assumeno, --installroot, --releasever, -q) are not repeated here: DNF5 parses
// them wherever they stand and run() hands them over in the environment.
struct PassedOption {
    const char * name;
    char short_name;
    bool has_value;
    const char * description;
};

constexpr PassedOption PASSED_OPTIONS[]{
    {"manifest", 'm', true, "The stream manifest (default: stream-build.yaml in the current directory)"},
    {"workdir", '\0', true, "Work directory (default: .stream-build beside the manifest)"},
    {"json", '\0', false, "Machine-readable output"},
    {"verbose", 'v', false, "Show every step, also when standard error is not a terminal"},
    {"locked", '\0', false, "Use the lock file as it is; refuse to resolve refs"},
    {"jobs", 'j', true, "Components built side by side"},
    {"backend", '\0', true, "Build backend (auto, local, mock, koji, or a plugin's)"},
    {"target", '\0', true, "Koji build target to build in (means --backend koji)"},
    {"profile", 'p', true, "Koji profile"},
    {"koji-config", '\0', true, "An extra Koji configuration file"},
    {"nowait", '\0', false, "Don't wait for the build: start it and return"},
    {"keep-going", '\0', false, "After a failure, build everything that does not depend on it"},
    {"resume", '\0', false, "Continue an interrupted run"},
    {"no-check", '\0', false, "Skip the stream policy checks that run before building"},
    {"config", '\0', true, "stream-build's configuration file (forges, policy, commit rights)"},
    {"dot", '\0', false, "Print the graph in Graphviz DOT"},
    {"install-target", '\0', true, "Where to install: host, installroot, container, or a plugin's target"},
    {"output", '\0', true, "Container target: write the image to oci-archive:PATH"},
};

// Each subcommand with the options it takes (names from PASSED_OPTIONS, as `stream-build SUBCOMMAND
// --help` lists them) and what its positional arguments are; tests/unit/test_dnf5_shim.py checks
// these lists against the Python commands.
struct Subcommand {
    const char * name;
    const char * description;
    const char * options;
    const char * positional;
};

constexpr Subcommand SUBCOMMANDS[]{
    {"build", "Build the stream in dependency order and publish its repository",
     "manifest workdir json verbose locked jobs backend target profile koji-config nowait keep-going resume no-check "
     "config",
     "MANIFEST (default: -m, else stream-build.yaml)"},
    {"watch", "Follow the running (or last) build until it ends", "manifest workdir json verbose",
     "MANIFEST (default: -m, else stream-build.yaml)"},
    {"install", "Install packages built by the stream (default: the manifest's install.packages)",
     "manifest workdir json verbose install-target output", "PACKAGE ..."},
    {"plan", "Show the build order: batches, critical path, broken cycles", "manifest workdir json verbose locked dot",
     "MANIFEST (default: -m, else stream-build.yaml)"},
    {"lock", "Resolve every ref to a commit and write the lock file", "manifest workdir json verbose",
     "MANIFEST (default: -m, else stream-build.yaml)"},
    {"status", "Show the state of the last run", "manifest workdir json verbose",
     "MANIFEST (default: -m, else stream-build.yaml)"},
};


class StreamBuildSubcommand : public Command {
public:
    StreamBuildSubcommand(Context & context, const Subcommand & subcommand)
        : Command(context, subcommand.name),
          subcommand(subcommand) {}

    void set_argument_parser() override {
        auto & cmd = *get_argument_parser_command();
        cmd.set_description(subcommand.description);
        auto & parser = cmd.get_argument_parser();

        const std::string wanted = std::string(" ") + subcommand.options + " ";
        for (const auto & option : PASSED_OPTIONS) {
            if (wanted.find(std::string(" ") + option.name + " ") == std::string::npos) {
                continue;  // not an option of this subcommand: DNF5 refuses it, as stream-build would
            }
            auto * arg = parser.add_new_named_arg(std::string("stream-build-") + option.name);
            arg->set_long_name(option.name);
            if (option.short_name != '\0') {
                arg->set_short_name(option.short_name);
            }
            arg->set_description(option.description);
            arg->set_has_value(option.has_value);
            if (option.has_value) {
                arg->set_arg_value_help("VALUE");
            }
            arg->set_parse_hook_func([this, option](
                                         [[maybe_unused]] libdnf5::cli::ArgumentParser::NamedArg * named,
                                         [[maybe_unused]] const char * typed,
                                         const char * value) {
                passed.push_back(std::string("--") + option.name);
                if (option.has_value) {
                    passed.emplace_back(value);
                }
                return true;
            });
            cmd.register_named_arg(arg);
        }

        auto * rest = parser.add_new_positional_arg(
            "arguments", libdnf5::cli::ArgumentParser::PositionalArg::UNLIMITED, nullptr, nullptr);
        rest->set_description(subcommand.positional);
        // positional arguments may stand before, between and after options (`install --json hello`),
        // as in DNF5's own `do` command
        rest->set_nrepeats(libdnf5::cli::ArgumentParser::PositionalArg::UNLIMITED);
        rest->set_parse_hook_func([this](
                                      [[maybe_unused]] libdnf5::cli::ArgumentParser::PositionalArg * arg,
                                      int argc,
                                      const char * const argv[]) {
            for (int i = 0; i < argc; ++i) {
                passed.emplace_back(argv[i]);
            }
            return true;
        });
        cmd.register_positional_arg(rest);
    }

    void run() override {
        auto & base = get_context().get_base();
        auto & config = base.get_config();
        setenv("STREAM_BUILD_DNF5_INSTALLROOT", config.get_installroot_option().get_value().c_str(), 1);
        setenv("STREAM_BUILD_DNF5_ASSUMEYES", config.get_assumeyes_option().get_value() ? "1" : "0", 1);
        setenv("STREAM_BUILD_DNF5_ASSUMENO", config.get_assumeno_option().get_value() ? "1" : "0", 1);
        setenv("STREAM_BUILD_DNF5_QUIET", get_context().get_quiet() ? "1" : "0", 1);
        unsetenv("STREAM_BUILD_DNF5_RELEASEVER");
        auto vars = base.get_vars();
        if (vars->contains("releasever") &&
            vars->get("releasever").priority == libdnf5::Vars::Priority::COMMANDLINE) {
            setenv("STREAM_BUILD_DNF5_RELEASEVER", vars->get_value("releasever").c_str(), 1);
        }

        std::vector<std::string> args{STREAM_BUILD_PYTHON, "-m", "streambuild.dnf5_shim", subcommand.name};
        args.insert(args.end(), passed.begin(), passed.end());
        std::vector<char *> argv;
        for (auto & arg : args) {
            argv.push_back(arg.data());
        }
        argv.push_back(nullptr);

        std::cout.flush();
        std::cerr.flush();
        execv(STREAM_BUILD_PYTHON, argv.data());
        throw std::runtime_error(
            std::string("cannot run ") + STREAM_BUILD_PYTHON + " for stream-build: " + std::strerror(errno));
    }

private:
    const Subcommand & subcommand;
    std::vector<std::string> passed;
};


class StreamBuildCommand : public Command {
public:
    explicit StreamBuildCommand(Context & context) : Command(context, "stream-build") {}

    void set_parent_command() override {
        auto * root = get_session().get_argument_parser().get_root_command();
        root->register_command(get_argument_parser_command());
    }

    void set_argument_parser() override {
        auto & cmd = *get_argument_parser_command();
        cmd.set_description("Build stream sets of upstream release series in dependency order, and install them");
        cmd.set_long_description(
            "Build stream sets of upstream release series in dependency order, and install them. "
            "Each subcommand runs the stream-build command line with DNF's global options.");
    }

    void register_subcommands() override {
        for (const auto & subcommand : SUBCOMMANDS) {
            register_subcommand(std::make_unique<StreamBuildSubcommand>(get_context(), subcommand));
        }
    }

    void pre_configure() override { throw_missing_command(); }
};


class StreamBuildPlugin : public IPlugin {
public:
    using IPlugin::IPlugin;

    PluginAPIVersion get_api_version() const noexcept override { return REQUIRED_PLUGIN_API_VERSION; }

    const char * get_name() const noexcept override { return PLUGIN_NAME; }

    PluginVersion get_version() const noexcept override { return PLUGIN_VERSION; }

    const char * const * get_attributes() const noexcept override { return attrs; }

    const char * get_attribute(const char * attribute) const noexcept override {
        for (size_t i = 0; attrs[i]; ++i) {
            if (std::strcmp(attribute, attrs[i]) == 0) {
                return attrs_value[i];
            }
        }
        return nullptr;
    }

    std::vector<std::unique_ptr<Command>> create_commands() override {
        std::vector<std::unique_ptr<Command>> commands;
        commands.push_back(std::make_unique<StreamBuildCommand>(get_context()));
        return commands;
    }

    void finish() noexcept override {}
};


std::exception_ptr last_exception;

}  // namespace


PluginAPIVersion dnf5_plugin_get_api_version(void) {
    return REQUIRED_PLUGIN_API_VERSION;
}

const char * dnf5_plugin_get_name(void) {
    return PLUGIN_NAME;
}

PluginVersion dnf5_plugin_get_version(void) {
    return PLUGIN_VERSION;
}

IPlugin * dnf5_plugin_new_instance([[maybe_unused]] ApplicationVersion application_version, Context & context) try {
    return new StreamBuildPlugin(context);
} catch (...) {
    last_exception = std::current_exception();
    return nullptr;
}

void dnf5_plugin_delete_instance(IPlugin * plugin_object) {
    delete plugin_object;
}

std::exception_ptr * dnf5_plugin_get_last_exception(void) {
    return &last_exception;
}
