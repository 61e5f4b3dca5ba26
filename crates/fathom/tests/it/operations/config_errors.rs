//! Configuration errors through the real binary: each is one line on stderr naming the key, where
//! its value came from (the file and line, the `FATHOM_...` variable, or the flag), what was
//! expected, and a hint; never a Rust type name or a source location.

use super::support::{CliRun, Project};

/// A project whose schema is valid, so that only the configuration can fail.
fn project() -> Project {
    let project = Project::new();
    project.write(
        "fathom.schema.toml",
        "[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    project
}

/// Asserts the run failed with exactly `expected` as its one line of error output.
#[track_caller]
fn assert_error_line(run: &CliRun, expected: &str) {
    run.expect_code(1);
    assert_eq!(
        run.stderr,
        format!("error: invalid configuration: {expected}\n")
    );
    for internal in ["figment", ".rs:", "::", "usize", "u64", "u32"] {
        assert!(
            !run.stderr.contains(internal),
            "{internal} in {}",
            run.stderr
        );
    }
}

#[test]
fn a_bad_value_in_the_file_names_the_key_and_its_line() {
    let project = project();
    let cases = [
        (
            "# Production settings.\n[server]\nlisten = \"127.0.0.1:0\"\n\n[database]\nreaders = \"many\"\n",
            "database.readers (from fathom.toml line 6) must be a whole number, 0 or more, but is the text \"many\"; hint: for example readers = 4 (the default) in its [section]",
        ),
        (
            "[server]\nlisen = \"127.0.0.1:0\"\n",
            "server.lisen (from fathom.toml line 2) is not a setting Fathom knows; expected one of listen, body_limit_bytes, json_depth_limit, request_timeout_secs, write_timeout_secs, shutdown_timeout_secs, cors_origins, hsts, default_page_size, max_page_size; hint: check the spelling (every setting is listed in the Configuration section of the README)",
        ),
        (
            "[database]\ndurability = \"fast\"\n",
            "database.durability (from fathom.toml line 2) is \"fast\", but must be one of full, normal; hint: fix the value, or remove it to use the default (database.durability = \"full\")",
        ),
        (
            "[auth]\nargon2_memory_kib = 99999999999\n",
            "auth.argon2_memory_kib (from fathom.toml line 2) must be a whole number from 0 to 4294967295, but is the number 99999999999; hint: for example argon2_memory_kib = 19456 (the default) in its [section]",
        ),
        (
            "[server]\ncors_origins = { a = 1,\n  b = 2 }\n",
            "fathom.toml line 2, column 23 is not valid TOML: invalid inline table; hint: quote strings, keep an inline table { ... } on one line, and write each setting as key = value under its [section]",
        ),
        (
            "[auth]\npassword_min_length = 4\n",
            "auth.password_min_length (from fathom.toml line 2) must be at least 8; hint: fix the value, or remove it to use the default (auth.password_min_length = 12)",
        ),
        (
            "[mail]\napp_url = \"notaurl\"\n",
            "mail.app_url (from fathom.toml line 2) = \"notaurl\" is not an http(s) URL; use the address users open the application at, e.g. https://app.example.com; hint: fix the value, or remove it to use the default (mail.app_url = \"http://localhost:8090\")",
        ),
    ];
    for (contents, expected) in cases {
        project.write("fathom.toml", contents);
        assert_error_line(&project.cli(&["schema", "check"]), expected);
    }
}

#[test]
fn a_bad_value_in_the_environment_names_the_variable() {
    let project = project();
    let cases = [
        (
            ("FATHOM_DATABASE__READERS", "many"),
            "database.readers (from the environment variable FATHOM_DATABASE__READERS) must be a whole number, 0 or more, but is the text \"many\"; hint: for example FATHOM_DATABASE__READERS=4",
        ),
        (
            ("FATHOM_SERVER__HSTS", "yes"),
            "server.hsts (from the environment variable FATHOM_SERVER__HSTS) must be true or false, but is the text \"yes\"; hint: for example FATHOM_SERVER__HSTS=false",
        ),
        (
            ("FATHOM_SERVRE__LISTEN", "127.0.0.1:0"),
            "servre (from the environment variable FATHOM_SERVRE__LISTEN) is not a section Fathom knows; expected one of server, database, schema, log, auth, mail, events, realtime, brokers, idempotency, purge, backup, metrics, otel, encryption, webhooks, audit, rate_limits, redis, cache, oauth, architect; hint: check the spelling (every setting is listed in the Configuration section of the README)",
        ),
        (
            ("FATHOM_LOG__LEVEL", "fathom=[["),
            "log.level (from the environment variable FATHOM_LOG__LEVEL) is \"fathom=[[\", which is not a log filter; hint: use a level (error, warn, info, debug, trace) or directives such as fathom=debug,info",
        ),
        (
            ("FATHOM_LOG__FORMAT", "xml"),
            "log.format (from the environment variable FATHOM_LOG__FORMAT) is \"xml\", but must be one of auto, json, pretty; hint: fix the value, or remove it to use the default (log.format = \"auto\")",
        ),
        (
            (
                "FATHOM_DATABASE__URL",
                "mysql://fathom:hunter2@db.internal/fathom",
            ),
            "database.url (from the environment variable FATHOM_DATABASE__URL) has the scheme `mysql`, which Fathom cannot serve; hint: use postgres://USER:PASSWORD@HOST:PORT/DATABASE, sqlite://PATH, or leave it unset to use database.data_dir",
        ),
    ];
    for (variable, expected) in cases {
        assert_error_line(
            &project.cli_with_env(&["schema", "check"], &[variable]),
            expected,
        );
    }
    // The environment beats the file, and the message names the layer that won.
    project.write("fathom.toml", "[server]\nhsts = true\n");
    assert_error_line(
        &project.cli_with_env(&["schema", "check"], &[("FATHOM_SERVER__HSTS", "yes")]),
        "server.hsts (from the environment variable FATHOM_SERVER__HSTS) must be true or false, but is the text \"yes\"; hint: for example FATHOM_SERVER__HSTS=false",
    );
}

#[test]
fn a_bad_flag_is_named() {
    let project = project();
    assert_error_line(
        &project.cli(&["serve", "--listen", "nowhere"]),
        "server.listen (from the flag --listen) is \"nowhere\", which is not an address; hint: use IP:PORT such as 127.0.0.1:8090 (port 0 picks a free port)",
    );
    assert_error_line(
        &project.cli(&["schema", "check", "--config", "absent.toml"]),
        "the configuration file absent.toml (from the flag --config) does not exist; hint: create it with `fathom init`, or drop --config",
    );
}
