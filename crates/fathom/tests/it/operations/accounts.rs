//! `fathom users create-admin`, `fathom keys create|list|revoke` and the rule check of
//! `fathom schema check`, through the binary.

use super::support::{Project, stop};

#[test]
fn create_admin_refuses_weak_passwords_and_taken_emails_and_never_takes_the_password_as_an_argument()
 {
    let project = Project::new();
    project.write(
        "fathom.schema.toml",
        "[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    let password = [("FATHOM_ADMIN_PASSWORD", "an administrator passphrase 2026")];
    let created = project.cli_with_env(
        &["users", "create-admin", "--email", "Root@Example.com"],
        &password,
    );
    created.expect_code(0);
    assert!(
        created
            .stdout
            .contains("Created administrator root@example.com"),
        "{}",
        created.stdout
    );

    let taken = project.cli_with_env(
        &["users", "create-admin", "--email", "root@example.com"],
        &password,
    );
    taken.expect_code(1);
    assert!(taken.stderr.contains("already exists"), "{}", taken.stderr);

    let weak = project.cli_with_env(
        &["users", "create-admin", "--email", "b@example.com"],
        &[("FATHOM_ADMIN_PASSWORD", "short")],
    );
    weak.expect_code(1);
    assert!(weak.stderr.contains("too short"), "{}", weak.stderr);

    // There is no flag for the password (it would land in shell history and process lists).
    let flag = project.cli(&[
        "users",
        "create-admin",
        "--email",
        "c@example.com",
        "--password",
        "x",
    ]);
    flag.expect_code(2);
    project.write("pw.txt", "a passphrase from a file 2026\n");
    project
        .cli(&[
            "users",
            "create-admin",
            "--email",
            "c@example.com",
            "--password-file",
            "pw.txt",
        ])
        .expect_code(0);
}

#[test]
fn schema_check_reports_a_broken_rule() {
    let project = Project::new();
    project.write(
        "fathom.schema.toml",
        "[collections.notes]\nrules = { list = \"ownr = auth.id\" }\nfields.owner = { type = \"uuid\" }\n",
    );
    let check = project.cli(&["schema", "check"]);
    check.expect_code(1);
    assert!(
        check.stderr.contains("`list` rule of `notes`") && check.stderr.contains("ownr"),
        "{}",
        check.stderr
    );
}

#[tokio::test]
async fn keys_create_prints_a_key_once_that_the_server_accepts_until_keys_revoke() {
    let project = Project::new();
    project.write(
        "fathom.schema.toml",
        "[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    for (scope, reason) in [("notes", "no `:`"), ("ghosts:list", "not a collection")] {
        let bad = project.cli(&["keys", "create", "--name", "svc", "--scope", scope]);
        bad.expect_code(1);
        assert!(bad.stderr.contains(reason), "{}", bad.stderr);
    }
    let created = project.cli(&["keys", "create", "--name", "svc", "--scope", "notes:list"]);
    created.expect_code(0);
    let key = created.stdout.trim().to_owned();
    assert!(key.starts_with("fth_"), "{key}");

    let listed = project.cli(&["keys", "list"]);
    listed.expect_code(0);
    assert!(listed.stdout.contains("notes:list"), "{}", listed.stdout);
    assert!(
        !listed.stdout.contains(&key[13..]),
        "the secret is never listed"
    );
    let id = listed
        .stdout
        .lines()
        .find(|l| l.contains("notes:list"))
        .and_then(|l| l.split_whitespace().next())
        .expect("a key line")
        .to_owned();

    let mut server = project.serve(&[]);
    let client = crate::helpers::client_builder().build().unwrap();
    let list = |key: String| {
        let request = client
            .get(server.url("/api/v1/notes"))
            .bearer_auth(key)
            .send();
        async move { request.await.expect("request").status().as_u16() }
    };
    assert_eq!(list(key.clone()).await, 200);
    project.cli(&["keys", "revoke", &id]).expect_code(0);
    assert_eq!(list(key.clone()).await, 401);
    project.cli(&["keys", "revoke", &id]).expect_code(1);
    assert!(stop(&mut server).success());
}

#[test]
fn keys_create_refuses_a_bad_name_or_tenant_and_revoke_a_bad_id() {
    let project = Project::new();
    project.write(
        "fathom.schema.toml",
        "[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    let long_tenant = "t".repeat(129);
    for (args, reason) in [
        (vec!["--name", " "], "--name"),
        (vec!["--name", "svc", "--tenant", ""], "--tenant"),
        (
            vec!["--name", "svc", "--tenant", long_tenant.as_str()],
            "--tenant",
        ),
    ] {
        let mut all = vec!["keys", "create", "--scope", "notes:list"];
        all.extend(args);
        let run = project.cli(&all);
        run.expect_code(1);
        assert!(run.stderr.contains(reason), "{}", run.stderr);
    }
    let bad = project.cli(&["keys", "revoke", "not-an-id"]);
    bad.expect_code(1);
    assert!(bad.stderr.contains("not a key id"), "{}", bad.stderr);
}
