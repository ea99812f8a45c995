use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

/// A temporary home: `docker/` (DOCKER_CONFIG), `xdg/` (XDG_RUNTIME_DIR), `bin/` (PATH).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        for d in ["docker", "xdg/containers", "bin"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Home { dir }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.p(rel);
        fs::write(&p, text).unwrap();
        p
    }

    fn env(&self) -> AuthEnv {
        AuthEnv {
            docker_config: Some(self.p("docker")),
            registry_auth_file: None,
            xdg_runtime_dir: Some(self.p("xdg")),
            home: Some(self.p("home")),
            // The helper directory first, as a user's PATH would have it; the rest for the
            // fake helper's own `cat` and `sed`.
            path: Some(
                std::env::join_paths(std::iter::once(self.p("bin")).chain(std::env::split_paths(
                    &std::env::var_os("PATH").unwrap_or_default(),
                )))
                .unwrap(),
            ),
        }
    }

    fn opts(&self) -> AuthOptions {
        AuthOptions {
            creds: None,
            auth_file: None,
            env: self.env(),
        }
    }

    /// A fake `docker-credential-fake`: `get` answers from `store/<server>` (or says it has
    /// nothing), `store` and `erase` keep the files; each action is logged in `log`.
    fn fake_helper(&self) {
        let store = self.p("store");
        fs::create_dir_all(&store).unwrap();
        let script = format!(
            r#"#!/bin/sh
set -e
cd '{store}'
input=$(cat)
echo "$1 $input" >> log
case "$1" in
get)
    key=$(printf %s "$input" | tr '/:' '__')
    if [ -f "$key" ]; then cat "$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
    key=$(printf %s "$input" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/' | tr '/:' '__')
    printf %s "$input" > "$key" ;;
erase)
    key=$(printf %s "$input" | tr '/:' '__')
    if [ -f "$key" ]; then rm "$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown action $1" >&2; exit 3 ;;
esac
"#,
            store = store.display()
        );
        let p = self.write("bin/docker-credential-fake", &script);
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn helper_log(&self) -> String {
        fs::read_to_string(self.p("store/log")).unwrap_or_default()
    }
}

fn auth(user: &str, pass: &str) -> String {
    format!(
        r#"{{"auths":{{"example.com":{{"auth":"{}"}}}}}}"#,
        encode_base64(format!("{user}:{pass}").as_bytes())
    )
}

fn found(host: &str, opts: &AuthOptions) -> Option<(String, String)> {
    lookup(host, opts)
        .unwrap()
        .map(|c| (c.username, c.password))
}

fn pair(u: &str, p: &str) -> Option<(String, String)> {
    Some((u.into(), p.into()))
}

fn message(e: &Error) -> String {
    format!("{e}")
}

#[test]
fn nothing_anywhere_is_none() {
    let h = Home::new();
    assert_eq!(found("example.com", &h.opts()), None);
    assert_eq!(found("example.com", &AuthOptions::default()), None);
}

#[test]
fn sources_in_order_first_hit_wins() {
    let h = Home::new();
    let mut opts = h.opts();
    h.write("docker/config.json", &auth("docker", "d"));
    assert_eq!(found("example.com", &opts), pair("docker", "d"));
    h.write("xdg/containers/auth.json", &auth("xdg", "x"));
    assert_eq!(found("example.com", &opts), pair("xdg", "x"));
    opts.env.registry_auth_file = Some(h.write("regauth.json", &auth("regenv", "r")));
    assert_eq!(found("example.com", &opts), pair("regenv", "r"));
    opts.auth_file = Some(h.write("given.json", &auth("given", "g")));
    assert_eq!(found("example.com", &opts), pair("given", "g"));
    opts.creds = Some(Credentials::new("flag", "f"));
    assert_eq!(found("example.com", &opts), pair("flag", "f"));
    // A file without the host is passed over.
    opts.creds = None;
    opts.auth_file = Some(h.write("other.json", r#"{"auths":{"other.io":{"auth":"eDp5"}}}"#));
    assert_eq!(found("example.com", &opts), pair("regenv", "r"));
    assert_eq!(found("other.io", &opts), pair("x", "y"));
}

#[test]
fn home_docker_config_when_docker_config_unset() {
    let h = Home::new();
    let mut opts = h.opts();
    opts.env.docker_config = None;
    fs::create_dir_all(h.p("home/.docker")).unwrap();
    h.write("home/.docker/config.json", &auth("home", "h"));
    h.write("docker/config.json", &auth("docker", "d"));
    assert_eq!(found("example.com", &opts), pair("home", "h"));
    assert_eq!(
        opts.env.docker_config_file(),
        Some(h.p("home/.docker/config.json"))
    );
}

#[test]
fn entry_forms() {
    let h = Home::new();
    let opts = h.opts();
    h.write(
        "docker/config.json",
        r#"{"auths":{
            "a.io":{"username":"u","password":"p"},
            "b.io":{"auth":"dTpwOnE=","identitytoken":"tok"},
            "c.io":{"auth":"dTpwOnE="},
            "d.io":{},
            "e.io":{"auth":""}
        }}"#,
    );
    assert_eq!(found("a.io", &opts), pair("u", "p"));
    let token = lookup("b.io", &opts).unwrap().unwrap();
    assert_eq!(token.token(), Some("tok"));
    assert_eq!(token.username, "<token>");
    // The password may hold colons.
    assert_eq!(found("c.io", &opts), pair("u", "p:q"));
    assert_eq!(found("d.io", &opts), None);
    assert_eq!(found("e.io", &opts), None);
}

#[test]
fn docker_hub_aliases_and_scheme_keys() {
    let h = Home::new();
    let opts = h.opts();
    for key in [
        "https://index.docker.io/v1/",
        "index.docker.io",
        "docker.io",
        "registry-1.docker.io",
    ] {
        h.write(
            "docker/config.json",
            &format!(r#"{{"auths":{{"{key}":{{"auth":"aHViOnM="}}}}}}"#),
        );
        for host in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(found(host, &opts), pair("hub", "s"), "{key} for {host}");
        }
        assert_eq!(found("quay.io", &opts), None, "{key}");
    }
    for key in [
        "https://ghcr.io",
        "http://ghcr.io/v2/",
        "ghcr.io",
        "https://ghcr.io/",
    ] {
        h.write(
            "docker/config.json",
            &format!(r#"{{"auths":{{"{key}":{{"auth":"Z2g6cw=="}}}}}}"#),
        );
        assert_eq!(found("ghcr.io", &opts), pair("gh", "s"), "{key}");
        assert_eq!(
            found("https://ghcr.io/v2/", &opts),
            pair("gh", "s"),
            "{key}"
        );
        assert_eq!(found("ghcr.io:443", &opts), None, "{key}");
    }
    // An exact key wins over another that names the same registry.
    h.write(
        "docker/config.json",
        r#"{"auths":{"https://ghcr.io":{"auth":"YTpi"},"ghcr.io":{"auth":"Z2g6cw=="}}}"#,
    );
    assert_eq!(found("ghcr.io", &opts), pair("gh", "s"));
}

#[test]
fn registry_hosts() {
    for (name, host) in [
        ("ghcr.io", "ghcr.io"),
        ("https://ghcr.io/v2/", "ghcr.io"),
        ("http://localhost:5000", "localhost:5000"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("quay.io/org/repo", "quay.io"),
    ] {
        assert_eq!(registry_host(name), host, "{name}");
    }
}

#[test]
fn broken_files_are_errors_naming_them() {
    let h = Home::new();
    let opts = h.opts();
    let cases = [
        ("{\"auths\": {", "is not valid JSON"),
        ("[1]", "is not a JSON object"),
        (r#"{"auths":[]}"#, "'auths'"),
        (r#"{"auths":{"example.com":{"auth":"%%%%"}}}"#, "not base64"),
        (
            r#"{"auths":{"example.com":{"auth":"bm9jb2xvbg=="}}}"#,
            "USER:PASSWORD",
        ),
        (r#"{"auths":{"example.com":{"auth":7}}}"#, "not a string"),
        (r#"{"credsStore":7}"#, "'credsStore'"),
    ];
    for (text, want) in cases {
        let file = h.write("docker/config.json", text);
        let err = lookup("example.com", &opts).unwrap_err();
        let msg = message(&err);
        assert!(msg.contains(&file.display().to_string()), "{text}: {msg}");
        assert!(msg.contains(want), "{text}: {msg}");
    }
    // A broken podman file is an error too, not skipped.
    h.write("docker/config.json", &auth("docker", "d"));
    let file = h.write("xdg/containers/auth.json", "nope");
    let msg = message(&lookup("example.com", &opts).unwrap_err());
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    // So is one larger than 1 MiB, and one that is a directory.
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(1 << 20));
    h.write("xdg/containers/auth.json", &big);
    assert!(message(&lookup("example.com", &opts).unwrap_err()).contains("larger than 1 MiB"));
    fs::remove_file(h.p("xdg/containers/auth.json")).unwrap();
    fs::create_dir(h.p("xdg/containers/auth.json")).unwrap();
    assert!(message(&lookup("example.com", &opts).unwrap_err()).contains("not a regular file"));
    // An empty file holds nothing.
    fs::remove_dir(h.p("xdg/containers/auth.json")).unwrap();
    h.write("docker/config.json", "");
    assert_eq!(found("example.com", &opts), None);
}

#[test]
fn secrets_never_in_messages() {
    let h = Home::new();
    let opts = h.opts();
    // The password is in a malformed entry: the error does not show it.
    h.write(
        "docker/config.json",
        r#"{"auths":{"example.com":{"auth":"hunter2hunter2"}}, "x": }"#,
    );
    let msg = message(&lookup("example.com", &opts).unwrap_err());
    assert!(!msg.contains("hunter2"), "{msg}");
    h.write(
        "docker/config.json",
        r#"{"auths":{"example.com":{"auth":"aHVudGVyMg"}}}"#,
    );
    let msg = message(&lookup("example.com", &opts).unwrap_err());
    assert!(
        !msg.contains("hunter2") && !msg.contains("aHVudGVyMg"),
        "{msg}"
    );
}

#[test]
fn debug_redacts() {
    let c = Credentials::new("alice", "hunter2");
    assert_eq!(
        format!("{c:?}"),
        r#"Credentials { username: "alice", password: "***" }"#
    );
    let t = Credentials::identity_token("tok-secret");
    assert_eq!(format!("{t:?}"), r#"IdentityToken("***")"#);
    let opts = AuthOptions {
        creds: Some(c),
        ..AuthOptions::default()
    };
    assert!(!format!("{opts:?}").contains("hunter2"));
}

#[test]
fn creds_flag() {
    let ok = |v: &str, env: Option<&str>| {
        let c = parse_creds(v, env.map(String::from)).unwrap();
        (c.username, c.password)
    };
    assert_eq!(ok("u:p", None), ("u".into(), "p".into()));
    assert_eq!(ok("u:p:q", None), ("u".into(), "p:q".into()));
    assert_eq!(ok("u", Some("envpw")), ("u".into(), "envpw".into()));
    assert_eq!(ok("u:p", Some("envpw")), ("u".into(), "p".into()));
    for (v, env) in [
        ("u", None),
        ("u", Some("")),
        (":secretpw", None),
        ("u:", None),
        ("", Some("secretpw")),
    ] {
        let err = parse_creds(v, env.map(String::from)).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Usage, "{v}");
        let msg = message(&err);
        assert!(msg.contains("--creds"), "{msg}");
        assert!(!msg.contains("secretpw"), "{msg}");
    }
}

#[test]
fn login_then_lookup_round_trip() {
    let h = Home::new();
    let mut opts = h.opts();
    // DOCKER_CONFIG does not exist yet: created 0700.
    opts.env.docker_config = Some(h.p("new/docker"));
    let creds = Credentials::new("alice", "pa:ss wörd");
    let stored = login("localhost:5000", &creds, &opts).unwrap();
    let file = h.p("new/docker/config.json");
    assert_eq!(stored, Stored::File(file.clone()));
    assert_eq!(
        fs::metadata(h.p("new/docker"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert_eq!(
        lookup("localhost:5000", &opts).unwrap(),
        Some(creds.clone())
    );
    // Docker Hub goes under docker's key.
    login("docker.io", &Credentials::new("hub", "h"), &opts).unwrap();
    let doc: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert!(doc["auths"][DOCKER_HUB_SERVER]["auth"].is_string(), "{doc}");
    assert_eq!(found("index.docker.io", &opts), pair("hub", "h"));
    // Logging in again replaces the entry, a stale token included.
    fs::write(
        &file,
        r#"{"auths":{"localhost:5000":{"identitytoken":"old"}}}"#,
    )
    .unwrap();
    login("localhost:5000", &creds, &opts).unwrap();
    assert_eq!(lookup("localhost:5000", &opts).unwrap(), Some(creds));
}

#[test]
fn login_keeps_other_keys_and_writes_0600() {
    let h = Home::new();
    let opts = h.opts();
    let file = h.write(
        "docker/config.json",
        r#"{"auths":{"other.io":{"auth":"eDp5"}},"proxies":{"default":{"httpProxy":"http://p:3128"}},"detachKeys":"ctrl-e"}"#,
    );
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    login("example.com", &Credentials::new("u", "p"), &opts).unwrap();
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let doc: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["auths"]["other.io"]["auth"], "eDp5");
    assert_eq!(doc["auths"]["example.com"]["auth"], "dTpw");
    assert_eq!(doc["proxies"]["default"]["httpProxy"], "http://p:3128");
    assert_eq!(doc["detachKeys"], "ctrl-e");
    // No temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(h.p("docker"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.json"]);
}

#[test]
fn login_follows_a_symlinked_config() {
    let h = Home::new();
    let opts = h.opts();
    let real = h.write("dotfiles.json", "{}");
    std::os::unix::fs::symlink(&real, h.p("docker/config.json")).unwrap();
    login("example.com", &Credentials::new("u", "p"), &opts).unwrap();
    assert!(
        fs::symlink_metadata(h.p("docker/config.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(found("example.com", &opts), pair("u", "p"));
}

#[test]
fn login_and_logout_with_authfile() {
    let h = Home::new();
    let mut opts = h.opts();
    opts.auth_file = Some(h.p("podman/auth.json"));
    let stored = login("quay.io", &Credentials::new("q", "w"), &opts).unwrap();
    assert_eq!(stored, Stored::File(h.p("podman/auth.json")));
    assert!(!h.p("docker/config.json").exists());
    assert_eq!(found("quay.io", &opts), pair("q", "w"));
    assert!(logout("quay.io", &opts).unwrap());
    assert!(!logout("quay.io", &opts).unwrap());
    assert_eq!(found("quay.io", &opts), None);
}

#[test]
fn logout_removes_every_key_of_the_host() {
    let h = Home::new();
    let opts = h.opts();
    let file = h.write(
        "docker/config.json",
        r#"{"auths":{"ghcr.io":{"auth":"YTpi"},"https://ghcr.io/v2/":{"auth":"YTpi"},"quay.io":{"auth":"YTpi"}},"x":1}"#,
    );
    assert!(logout("ghcr.io", &opts).unwrap());
    let doc: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"auths":{"quay.io":{"auth":"YTpi"}},"x":1})
    );
    assert!(!logout("ghcr.io", &opts).unwrap());
    // Nothing to remove and no file: nothing is created.
    fs::remove_file(&file).unwrap();
    assert!(!logout("ghcr.io", &opts).unwrap());
    assert!(!file.exists());
}

#[test]
fn helpers_get_store_erase() {
    let h = Home::new();
    h.fake_helper();
    let opts = h.opts();
    h.write(
        "docker/config.json",
        r#"{"credHelpers":{"example.com":"fake"},"auths":{"example.com":{"auth":"ZmlsZTpm"}}}"#,
    );
    // The helper has nothing: the auths entry is next.
    assert_eq!(found("example.com", &opts), pair("file", "f"));
    assert_eq!(h.helper_log(), "get example.com\n");
    // login stores through the helper, and lookup then finds it there first.
    let stored = login("example.com", &Credentials::new("helped", "s3cret"), &opts).unwrap();
    assert_eq!(stored, Stored::Helper("fake".into()));
    assert_eq!(found("example.com", &opts), pair("helped", "s3cret"));
    assert!(
        h.helper_log()
            .contains(r#"store {"Secret":"s3cret","ServerURL":"example.com","Username":"helped"}"#)
    );
    // logout erases there, and the file's entry too.
    assert!(logout("example.com", &opts).unwrap());
    assert!(h.helper_log().ends_with("erase example.com\n"));
    assert_eq!(found("example.com", &opts), None);
    assert!(!logout("example.com", &opts).unwrap());
}

#[test]
fn creds_store_after_auths_and_identity_tokens() {
    let h = Home::new();
    h.fake_helper();
    let opts = h.opts();
    h.write(
        "docker/config.json",
        r#"{"credsStore":"fake","auths":{"a.io":{"auth":"YTpi"}}}"#,
    );
    assert_eq!(found("a.io", &opts), pair("a", "b"));
    assert_eq!(found("b.io", &opts), None);
    assert_eq!(h.helper_log(), "get b.io\n");
    h.write(
        "store/https___index.docker.io_v1_",
        r#"{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"tok"}"#,
    );
    let c = lookup("docker.io", &opts).unwrap().unwrap();
    assert_eq!(c.token(), Some("tok"));
    assert!(
        h.helper_log()
            .ends_with("get https://index.docker.io/v1/\n")
    );
    // Docker Hub is stored under docker's server URL.
    login("docker.io", &Credentials::new("hub", "h"), &opts).unwrap();
    assert!(
        h.helper_log()
            .contains(r#""ServerURL":"https://index.docker.io/v1/""#)
    );
}

#[test]
fn failing_missing_and_odd_helpers_are_errors_naming_them() {
    let h = Home::new();
    let opts = h.opts();
    let script = "#!/bin/sh\necho 'TOPSECRET on stdout'\necho 'keychain locked' >&2\nexit 2\n";
    let p = h.write("bin/docker-credential-broken", script);
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    let p = h.write(
        "bin/docker-credential-garbage",
        "#!/bin/sh\necho 'TOPSECRET'\n",
    );
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    for (store, want) in [
        (
            "broken",
            "'docker-credential-broken get' failed (exit status: 2): keychain locked",
        ),
        (
            "garbage",
            "'docker-credential-garbage' answered get with something other than JSON",
        ),
        ("absent", "'docker-credential-absent' was not found in PATH"),
        ("../../bin/sh", "is not a plain name"),
    ] {
        h.write(
            "docker/config.json",
            &format!(r#"{{"credsStore":"{store}"}}"#),
        );
        let msg = message(&lookup("example.com", &opts).unwrap_err());
        assert!(msg.contains(want), "{store}: {msg}");
        assert!(!msg.contains("TOPSECRET"), "{store}: {msg}");
    }
    h.write("docker/config.json", r#"{"credsStore":"broken"}"#);
    let msg = message(&login("example.com", &Credentials::new("u", "p"), &opts).unwrap_err());
    assert!(
        msg.contains("'docker-credential-broken store' failed"),
        "{msg}"
    );
}

#[test]
fn bad_hosts_are_usage_errors() {
    let h = Home::new();
    for host in ["", "https://", "a b"] {
        let err = login(host, &Credentials::new("u", "p"), &h.opts()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Usage, "{host:?}");
    }
    let err = login("x.io", &Credentials::new("u", "p"), &AuthOptions::default()).unwrap_err();
    assert!(message(&err).contains("DOCKER_CONFIG"));
}
