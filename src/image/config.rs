//! The image configuration: platform, runtime settings from the flags, `rootfs.diff_ids`,
//! a history entry for our layer, and `created`.

use anyhow::{Context as _, Result};
use oci_spec::image::{
    Config, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, RootFsBuilder,
};

use super::platform::Platform;
use crate::digest::Sha256Sum;

/// The runtime settings and metadata that flags put into the config.
#[derive(Debug, Clone, Default)]
pub struct ImageSettings {
    /// `--env`, in order, later values of a name already replaced in place.
    pub env: Vec<(String, String)>,
    /// `--label`, for the config.
    pub labels: Vec<(String, String)>,
    /// `--annotation`, for the manifest (and index).
    pub annotations: Vec<(String, String)>,
    /// `--entrypoint`; None keeps the base image's.
    pub entrypoint: Option<Vec<String>>,
    /// `--cmd`; None keeps the base image's.
    pub cmd: Option<Vec<String>>,
    /// `--workdir`; None keeps the base image's.
    pub workdir: Option<String>,
    /// `--user`; None keeps the base image's.
    pub user: Option<String>,
    /// `--expose`, normalised to `PORT/PROTO`, sorted and without duplicates.
    pub expose: Vec<String>,
    /// `--stop-signal`; None keeps the base image's.
    pub stop_signal: Option<String>,
    /// `--volume`: absolute paths, added to the base's, sorted and without duplicates.
    pub volumes: Vec<String>,
    /// Seconds since the epoch: SOURCE_DATE_EPOCH, or the time of the build.
    pub created: i64,
    /// The history entry's `created_by`: the command without host paths.
    pub created_by: String,
}

/// The configuration of the image for one platform: the base's configuration (if any)
/// with the flags applied by Docker's rules, its layers' diff_ids followed by ours, and its
/// history followed by one entry per layer of ours (`layers`: diff_id and comment).
///
/// `--env` replaces a base variable of the same name in place and appends new ones; labels
/// merge; `--entrypoint` replaces the base's and clears an inherited cmd; `--cmd`,
/// `--workdir`, `--user` replace; `--expose` adds ports.
pub fn build_config(
    s: &ImageSettings,
    platform: &Platform,
    base: Option<&ImageConfiguration>,
    layers: &[(Sha256Sum, String)],
) -> Result<ImageConfiguration> {
    let created = rfc3339(s.created);
    let config = runtime_config(s, base);

    let mut diff_ids: Vec<String> = base
        .map(|b| b.rootfs().diff_ids().clone())
        .unwrap_or_default();
    diff_ids.extend(layers.iter().map(|(d, _)| d.prefixed()));
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(diff_ids)
        .build()
        .context("building the image config's rootfs")?;
    let mut history = base.and_then(|b| b.history().clone()).unwrap_or_default();
    for (_, comment) in layers {
        history.push(
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(s.created_by.clone())
                .comment(comment.clone())
                .build()
                .context("building the image history")?,
        );
    }
    let mut builder = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(platform.arch())
        .os(platform.os())
        .rootfs(rootfs)
        .history(history);
    if let Some(v) = &platform.variant {
        builder = builder.variant(v.clone());
    }
    if let Some(b) = base {
        if let Some(a) = b.author() {
            builder = builder.author(a.clone());
        }
        if let Some(v) = b.os_version() {
            builder = builder.os_version(v.clone());
        }
        if let Some(f) = b.os_features() {
            builder = builder.os_features(f.clone());
        }
    }
    let mut image = builder.build().context("building the image config")?;
    if config != Config::default() {
        image.set_config(Some(config));
    }
    Ok(image)
}

/// The runtime settings: the base's (if any) with the flags applied (see `build_config`).
fn runtime_config(s: &ImageSettings, base: Option<&ImageConfiguration>) -> Config {
    let mut config: Config = base.and_then(|b| b.config().clone()).unwrap_or_default();
    let mut env = config.env().clone().unwrap_or_default();
    for (k, v) in &s.env {
        let entry = format!("{k}={v}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) == k)
        {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    }
    config.set_env((!env.is_empty()).then_some(env));
    let mut labels = config.labels().clone().unwrap_or_default();
    labels.extend(s.labels.iter().cloned());
    config.set_labels((!labels.is_empty()).then_some(labels));
    if let Some(ep) = &s.entrypoint {
        config.set_entrypoint((!ep.is_empty()).then(|| ep.clone()));
        if s.cmd.is_none() {
            config.set_cmd(None);
        }
    }
    if let Some(cmd) = &s.cmd {
        config.set_cmd((!cmd.is_empty()).then(|| cmd.clone()));
    }
    if let Some(dir) = &s.workdir {
        config.set_working_dir(Some(dir.clone()));
    }
    if let Some(user) = &s.user {
        config.set_user(Some(user.clone()));
    }
    let mut ports = config.exposed_ports().clone().unwrap_or_default();
    ports.extend(s.expose.iter().cloned());
    ports.sort();
    ports.dedup();
    config.set_exposed_ports((!ports.is_empty()).then_some(ports));
    if let Some(sig) = &s.stop_signal {
        config.set_stop_signal(Some(sig.clone()));
    }
    let mut volumes = config.volumes().clone().unwrap_or_default();
    volumes.extend(s.volumes.iter().cloned());
    volumes.sort();
    volumes.dedup();
    config.set_volumes((!volumes.is_empty()).then_some(volumes));
    config
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC, proleptic Gregorian).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn config_carries_settings() {
        let s = ImageSettings {
            env: vec![("PATH".into(), "/bin".into())],
            labels: vec![("a".into(), "b".into())],
            entrypoint: Some(vec!["/app".into()]),
            cmd: Some(vec!["--serve".into()]),
            workdir: Some("/srv".into()),
            user: Some("1000:1000".into()),
            expose: vec!["8080/tcp".into()],
            created: 0,
            created_by: "imgbuild build".into(),
            ..Default::default()
        };
        let p = Platform::parse("linux/arm64").unwrap();
        let cfg = build_config(
            &s,
            &p,
            None,
            &[(Sha256Sum::of(b"x"), "context directory layer".into())],
        )
        .unwrap();
        let v = serde_json::to_value(&cfg).unwrap();
        assert_eq!(v["architecture"], "arm64");
        assert_eq!(v["variant"], "v8");
        assert_eq!(v["created"], "1970-01-01T00:00:00Z");
        assert_eq!(v["config"]["Env"][0], "PATH=/bin");
        assert_eq!(v["config"]["Labels"]["a"], "b");
        assert_eq!(
            v["config"]["ExposedPorts"]["8080/tcp"],
            serde_json::json!({})
        );
        assert_eq!(v["config"]["WorkingDir"], "/srv");
        assert_eq!(v["rootfs"]["type"], "layers");
        assert_eq!(v["rootfs"]["diff_ids"][0], Sha256Sum::of(b"x").prefixed());
        assert_eq!(v["history"][0]["created_by"], "imgbuild build");
    }

    #[test]
    fn base_config_is_merged_by_docker_rules() {
        let base: ImageConfiguration = serde_json::from_value(serde_json::json!({
            "architecture": "amd64", "os": "linux", "author": "base author",
            "config": {
                "Env": ["PATH=/usr/bin:/bin", "LANG=C", "KEEP=1"],
                "Labels": {"a": "base", "b": "base"},
                "Entrypoint": ["/base-entry"], "Cmd": ["base-cmd"],
                "WorkingDir": "/base", "User": "base", "ExposedPorts": {"80/tcp": {}},
                "StopSignal": "SIGQUIT"
            },
            "rootfs": {"type": "layers", "diff_ids": ["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},
            "history": [{"created_by": "base layer"}]
        }))
        .unwrap();
        let s = ImageSettings {
            env: vec![
                ("LANG".into(), "C.UTF-8".into()),
                ("NEW".into(), "x".into()),
            ],
            labels: vec![("b".into(), "ours".into())],
            entrypoint: Some(vec!["/app".into()]),
            expose: vec!["8080/tcp".into()],
            created_by: "imgbuild build".into(),
            ..Default::default()
        };
        let p = Platform::parse("linux/amd64").unwrap();
        let v = serde_json::to_value(
            build_config(
                &s,
                &p,
                Some(&base),
                &[(Sha256Sum::of(b"x"), "context directory layer".into())],
            )
            .unwrap(),
        )
        .unwrap();
        let c = &v["config"];
        assert_eq!(
            c["Env"],
            serde_json::json!(["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "KEEP=1", "NEW=x"])
        );
        assert_eq!(c["Labels"], serde_json::json!({"a": "base", "b": "ours"}));
        assert_eq!(c["Entrypoint"], serde_json::json!(["/app"]));
        assert!(
            c.get("Cmd").is_none(),
            "a new entrypoint clears the inherited cmd"
        );
        assert_eq!(c["WorkingDir"], "/base");
        assert_eq!(c["User"], "base");
        assert_eq!(c["StopSignal"], "SIGQUIT");
        assert_eq!(
            c["ExposedPorts"],
            serde_json::json!({"80/tcp": {}, "8080/tcp": {}})
        );
        assert_eq!(v["author"], "base author");
        assert_eq!(v["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(v["history"][0]["created_by"], "base layer");
        assert_eq!(v["history"][1]["created_by"], "imgbuild build");
        // --cmd alone keeps the base entrypoint.
        let s = ImageSettings {
            cmd: Some(vec!["run".into()]),
            ..Default::default()
        };
        let v = serde_json::to_value(
            build_config(
                &s,
                &p,
                Some(&base),
                &[(Sha256Sum::of(b"x"), "context directory layer".into())],
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            v["config"]["Entrypoint"],
            serde_json::json!(["/base-entry"])
        );
        assert_eq!(v["config"]["Cmd"], serde_json::json!(["run"]));
    }

    #[test]
    fn empty_settings_leave_config_out() {
        let p = Platform::parse("linux/amd64").unwrap();
        let cfg = build_config(
            &ImageSettings::default(),
            &p,
            None,
            &[(Sha256Sum::of(b""), "context directory layer".into())],
        )
        .unwrap();
        let v = serde_json::to_value(&cfg).unwrap();
        assert!(v.get("config").is_none());
    }
}
