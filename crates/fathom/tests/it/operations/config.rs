//! Layered configuration: defaults < file < environment < flags, secrets read from files and never
//! printed, and one clear message per invalid setting. Mostly in-process through [`Config::load`];
//! one test pins the same order through the real binary.

use std::path::{Path, PathBuf};

use fathom::Config;
use fathom::config::{ConfigError, DatabaseOverrides, Overrides, SchemaOverrides, ServerOverrides};
use tempfile::TempDir;

use super::support::Project;

/// A directory holding the configuration file under test (and any secret files).
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// Loads with `contents` as the `--config` file (an empty file stands for "no file", so the
    /// test never depends on a `fathom.toml` in the working directory).
    fn load(
        &self,
        contents: &str,
        env: &[(&str, &str)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let file = self.file("fathom.toml", contents);
        Config::load(
            Some(&file),
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            overrides,
        )
    }

    fn load_ok(&self, contents: &str, env: &[(&str, &str)]) -> Config {
        self.load(contents, env, &Overrides::default())
            .expect("configuration loads")
    }

    fn load_err(&self, contents: &str, env: &[(&str, &str)]) -> String {
        match self.load(contents, env, &Overrides::default()) {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(e) => e.to_string(),
        }
    }
}

fn flags(listen: Option<&str>, data_dir: Option<&str>) -> Overrides {
    Overrides {
        server: listen.map(|l| ServerOverrides {
            listen: Some(l.into()),
        }),
        database: data_dir.map(|d| DatabaseOverrides {
            data_dir: Some(d.into()),
        }),
        schema: None,
    }
}

#[test]
fn each_layer_overrides_the_ones_below() {
    let setup = Setup::new();
    // Every combination of layers: the highest one present wins.
    for layers in 0..8u8 {
        let (in_file, in_env, in_flags) = (layers & 1 != 0, layers & 2 != 0, layers & 4 != 0);
        let file = if in_file {
            "[server]\nlisten = \"10.0.0.1:1\"\n[database]\ndata_dir = \"/from/file\"\n"
        } else {
            ""
        };
        let mut env = vec![("UNRELATED", "x")];
        if in_env {
            env.extend([
                ("FATHOM_SERVER__LISTEN", "10.0.0.2:2"),
                ("FATHOM_DATABASE__DATA_DIR", "/from/env"),
            ]);
        }
        let overrides = if in_flags {
            flags(Some("10.0.0.3:3"), Some("/from/flag"))
        } else {
            Overrides::default()
        };
        let config = setup.load(file, &env, &overrides).expect("loads");
        let (listen, data_dir) = match (in_file, in_env, in_flags) {
            (_, _, true) => ("10.0.0.3:3", "/from/flag"),
            (_, true, false) => ("10.0.0.2:2", "/from/env"),
            (true, false, false) => ("10.0.0.1:1", "/from/file"),
            (false, false, false) => ("127.0.0.1:8090", "./fathom_data"),
        };
        assert_eq!(
            config.server.listen, listen,
            "file={in_file} env={in_env} flags={in_flags}"
        );
        assert_eq!(
            config.database.data_dir,
            Path::new(data_dir),
            "file={in_file} env={in_env} flags={in_flags}"
        );
    }
}

#[test]
fn keys_without_a_flag_layer_defaults_file_and_environment() {
    let setup = Setup::new();
    let defaults = setup.load_ok("", &[]);
    assert_eq!(defaults.database.readers, 4);
    assert_eq!(defaults.database.cache_mib, 32);
    assert!(defaults.database.auto_migrate);
    assert_eq!(defaults.server.max_page_size, 100);

    let file = "[database]\nreaders = 8\ncache_mib = 64\nauto_migrate = false\n[server]\nmax_page_size = 500\n";
    let from_file = setup.load_ok(file, &[]);
    assert_eq!(from_file.database.readers, 8);
    assert_eq!(from_file.database.cache_mib, 64);
    assert!(!from_file.database.auto_migrate);
    assert_eq!(from_file.server.max_page_size, 500);

    let env = [
        ("FATHOM_DATABASE__READERS", "16"),
        ("FATHOM_DATABASE__CACHE_MIB", "8"),
        ("FATHOM_DATABASE__AUTO_MIGRATE", "true"),
    ];
    let from_env = setup.load_ok(file, &env);
    assert_eq!(from_env.database.readers, 16);
    assert_eq!(from_env.database.cache_mib, 8);
    assert!(from_env.database.auto_migrate);
    assert_eq!(
        from_env.server.max_page_size, 500,
        "keys the environment does not set keep the file's value"
    );
}

#[test]
fn environment_values_are_typed_by_the_key_they_set() {
    let setup = Setup::new();
    let config = setup.load_ok(
        "",
        &[
            (
                "FATHOM_SERVER__CORS_ORIGINS",
                "[\"https://a.example\", \"https://b.example\"]",
            ),
            ("FATHOM_SERVER__HSTS", "true"),
            ("FATHOM_LOG__LEVEL", "fathom=debug,info"),
        ],
    );
    assert_eq!(
        config.server.cors_origins,
        ["https://a.example", "https://b.example"]
    );
    assert!(config.server.hsts);
    assert_eq!(config.log.level, "fathom=debug,info");
}

/// An IPv6 listen address is the documented `IP:PORT` form, and must pass through the
/// environment layer unchanged.
#[test]
fn an_ipv6_listen_address_from_the_environment() {
    let setup = Setup::new();
    let config = setup.load(
        "",
        &[("FATHOM_SERVER__LISTEN", "[::1]:8090")],
        &Overrides::default(),
    );
    assert_eq!(
        config.map(|c| c.server.listen).map_err(|e| e.to_string()),
        Ok("[::1]:8090".to_owned())
    );
}

/// A path that happens to look like a number is still a path.
#[test]
fn a_numeric_looking_path_from_the_environment() {
    let setup = Setup::new();
    let config = setup.load(
        "",
        &[("FATHOM_DATABASE__DATA_DIR", "2026")],
        &Overrides::default(),
    );
    assert_eq!(
        config
            .map(|c| c.database.data_dir)
            .map_err(|e| e.to_string()),
        Ok(PathBuf::from("2026"))
    );
}

#[test]
fn the_database_url_is_read_from_url_file() {
    let setup = Setup::new();
    let secret = setup.file("database_url", "  sqlite:///srv/fathom/prod.db\n");
    let file = format!(
        "[database]\nurl_file = {:?}\n",
        secret.display().to_string()
    );
    let config = setup.load_ok(&file, &[]);
    let url = config
        .database
        .url
        .as_ref()
        .expect("the url is set from the file");
    assert_eq!(
        url.expose(),
        "sqlite:///srv/fathom/prod.db",
        "the file's contents are trimmed"
    );
    assert_eq!(
        config.sqlite_path("fathom.db"),
        Path::new("/srv/fathom/prod.db")
    );

    // The same through the environment.
    let config = setup.load_ok(
        "",
        &[("FATHOM_DATABASE__URL_FILE", &secret.display().to_string())],
    );
    assert_eq!(
        config
            .database
            .url
            .as_ref()
            .map(|u| u.expose().to_owned())
            .as_deref(),
        Some("sqlite:///srv/fathom/prod.db")
    );

    // Without a url the data dir decides.
    let config = setup.load_ok("[database]\ndata_dir = \"/data\"\n", &[]);
    assert_eq!(
        config.sqlite_path("fathom.db"),
        Path::new("/data/fathom.db")
    );
}

#[test]
fn url_file_problems_are_reported() {
    let setup = Setup::new();
    let missing = setup.dir.path().join("no_such_secret");
    let error = setup.load_err(
        &format!(
            "[database]\nurl_file = {:?}\n",
            missing.display().to_string()
        ),
        &[],
    );
    assert!(
        error.starts_with(&format!(
            "invalid configuration: database.url_file (from {} line 2): cannot read {}: ",
            setup.dir.path().join("fathom.toml").display(),
            missing.display()
        )),
        "{error}"
    );
    assert!(
        error.ends_with("; hint: check the path and its permissions"),
        "{error}"
    );

    let secret = setup.file("database_url", "sqlite:///x.db");
    let both = format!(
        "[database]\nurl = \"sqlite:///y.db\"\nurl_file = {:?}\n",
        secret.display().to_string()
    );
    let file = setup.dir.path().join("fathom.toml");
    assert_eq!(
        setup.load_err(&both, &[]),
        format!(
            "invalid configuration: both database.url (from {0} line 2) and database.url_file (from {0} line 3) are set; hint: keep only one",
            file.display()
        )
    );
}

#[test]
fn secrets_never_print() {
    let setup = Setup::new();
    let secret = setup.file("database_url", "sqlite:///srv/hunter2/prod.db\n");
    let config = setup.load_ok(
        "",
        &[("FATHOM_DATABASE__URL_FILE", &secret.display().to_string())],
    );
    for shown in [
        format!("{config:?}"),
        format!("{config:#?}"),
        serde_json::to_string(&config).expect("serialises"),
    ] {
        assert!(!shown.contains("hunter2"), "the secret leaked: {shown}");
    }
    assert!(format!("{config:?}").contains("Secret([redacted])"));
    assert_eq!(
        format!("{:?}", config.database.url.as_ref().expect("url")),
        "Secret([redacted])"
    );

    // Nor do validation errors about the url.
    let secret = setup.file("pg_url", "mysql://fathom:hunter2@db.internal/fathom\n");
    let error = setup.load_err(
        "",
        &[("FATHOM_DATABASE__URL_FILE", &secret.display().to_string())],
    );
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn each_invalid_setting_has_its_own_message() {
    let setup = Setup::new();
    // `{file}` stands for the configuration file's path: every message says where the value was
    // set, what was expected, and gives a hint.
    let cases = [
        (
            "[server]\nlisten = \"localhost\"\n",
            "server.listen (from {file} line 2) is \"localhost\", which is not an address; hint: use IP:PORT such as 127.0.0.1:8090 (port 0 picks a free port)",
        ),
        (
            "[database]\nreaders = 0\n",
            "database.readers (from {file} line 2) must be between 1 and 64; hint: fix the value, or remove it to use the default (database.readers = 4)",
        ),
        (
            "[database]\ncache_mib = 0\n",
            "database.cache_mib (from {file} line 2) must be between 1 and 4096; hint: fix the value, or remove it to use the default (database.cache_mib = 32)",
        ),
        (
            "[server]\ndefault_page_size = 200\nmax_page_size = 100\n",
            "server.default_page_size (from {file} line 2) is 200, but must be between 1 and server.max_page_size (from {file} line 3), which is 100; hint: lower the first or raise the second",
        ),
        (
            "[database]\nurl = \"mysql://localhost/fathom\"\n",
            "database.url (from {file} line 2) has the scheme `mysql`, which Fathom cannot serve; hint: use postgres://USER:PASSWORD@HOST:PORT/DATABASE, sqlite://PATH, or leave it unset to use database.data_dir",
        ),
        (
            "[database]\nmax_connections = 0\n",
            "database.max_connections (from {file} line 2) must be between 1 and 1000; hint: fix the value, or remove it to use the default (database.max_connections = 16)",
        ),
        (
            "[server]\nbody_limit_bytes = 10\n",
            "server.body_limit_bytes (from {file} line 2) must be at least 1024; hint: fix the value, or remove it to use the default (server.body_limit_bytes = 1048576)",
        ),
        (
            "[server]\njson_depth_limit = 0\n",
            "server.json_depth_limit (from {file} line 2) must be between 1 and 512; hint: fix the value, or remove it to use the default (server.json_depth_limit = 32)",
        ),
        (
            "[server]\nrequest_timeout_secs = 0\n",
            "server.request_timeout_secs (from {file} line 2) must be at least 1; hint: fix the value, or remove it to use the default (server.request_timeout_secs = 30)",
        ),
        (
            "[server]\nmax_page_size = 5000\n",
            "server.max_page_size (from {file} line 2) must be at most 1000; hint: fix the value, or remove it to use the default (server.max_page_size = 100)",
        ),
    ];
    let file = setup.dir.path().join("fathom.toml").display().to_string();
    for (contents, message) in cases {
        assert_eq!(
            setup.load_err(contents, &[]),
            format!(
                "invalid configuration: {}",
                message.replace("{file}", &file)
            ),
            "for {contents:?}"
        );
    }
    // The environment and flags are validated the same way, and named.
    assert_eq!(
        setup.load_err("", &[("FATHOM_DATABASE__READERS", "0")]),
        "invalid configuration: database.readers (from the environment variable FATHOM_DATABASE__READERS) must be between 1 and 64; hint: fix the value, or remove it to use the default (database.readers = 4)"
    );
    let flag_error = setup
        .load("", &[], &flags(Some("nowhere"), None))
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        flag_error.as_ref().is_err_and(|e| e.contains(
            "server.listen (from the flag --listen) is \"nowhere\", which is not an address"
        )),
        "{flag_error:?}"
    );
}

#[test]
fn unknown_keys_and_wrong_types_are_rejected() {
    let setup = Setup::new();
    let error = setup.load_err("[server]\nlisen = \"127.0.0.1:1\"\n", &[]);
    assert!(error.contains("lisen"), "names the unknown key: {error}");
    let error = setup.load_err("[database]\nreaders = \"many\"\n", &[]);
    assert!(error.contains("readers"), "names the key: {error}");
}

#[test]
fn a_config_file_that_does_not_exist_is_an_error() {
    let setup = Setup::new();
    let missing = setup.dir.path().join("absent.toml");
    let error = Config::load(Some(&missing), Vec::new(), &Overrides::default())
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        error,
        Err(format!(
            "invalid configuration: the configuration file {} (from the flag --config) does not exist; hint: create it with `fathom init`, or drop --config",
            missing.display()
        ))
    );
}

/// The same order through the real binary: `schema check` names the schema file it read.
#[test]
fn the_binary_layers_file_environment_and_flags() {
    let project = Project::new();
    for (name, collections) in [
        ("from_file.toml", 1),
        ("from_env.toml", 2),
        ("from_flag.toml", 3),
    ] {
        let schema: String = (0..collections)
            .map(|n| format!("[collections.c{n}]\nfields.name = {{ type = \"text\" }}\n"))
            .collect();
        project.write(name, &schema);
    }
    project.write(
        "fathom.schema.toml",
        "[collections.c0]\nfields.name = { type = \"text\" }\n",
    );

    let check = project.cli(&["schema", "check"]);
    assert_eq!(
        check.stdout, "fathom.schema.toml is valid: 1 collection(s), 1 field(s).\n",
        "{}",
        check.stderr
    );

    project.write("fathom.toml", "[schema]\npath = \"from_file.toml\"\n");
    let check = project.cli(&["schema", "check"]);
    assert_eq!(
        check.stdout, "from_file.toml is valid: 1 collection(s), 1 field(s).\n",
        "{}",
        check.stderr
    );

    let env = [("FATHOM_SCHEMA__PATH", "from_env.toml")];
    let check = project.cli_with_env(&["schema", "check"], &env);
    assert_eq!(
        check.stdout, "from_env.toml is valid: 2 collection(s), 2 field(s).\n",
        "{}",
        check.stderr
    );

    let check = project.cli_with_env(&["schema", "check", "--schema", "from_flag.toml"], &env);
    assert_eq!(
        check.stdout, "from_flag.toml is valid: 3 collection(s), 3 field(s).\n",
        "{}",
        check.stderr
    );

    // An invalid value in a lower layer does not matter when a higher one replaces it.
    project.write("fathom.toml", "[server]\nlisten = \"not an address\"\n");
    let check = project.cli(&["schema", "check"]);
    check.expect_code(1);
    assert!(
        check.stderr.contains(
            "server.listen (from fathom.toml line 2) is \"not an address\", which is not an address"
        ),
        "{}",
        check.stderr
    );
    let check = project.cli_with_env(
        &["schema", "check"],
        &[("FATHOM_SERVER__LISTEN", "127.0.0.1:0")],
    );
    check.expect_code(0);
}

#[test]
fn schema_override_flag_is_honoured_in_process() {
    let setup = Setup::new();
    let overrides = Overrides {
        schema: Some(SchemaOverrides {
            path: Some("flag.toml".into()),
        }),
        ..Overrides::default()
    };
    let config = setup
        .load(
            "[schema]\npath = \"file.toml\"\n",
            &[("FATHOM_SCHEMA__PATH", "env.toml")],
            &overrides,
        )
        .expect("loads");
    assert_eq!(config.schema.path, Path::new("flag.toml"));
}
