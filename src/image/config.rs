//! The image configuration: platform, runtime settings from the flags, `rootfs.diff_ids`,
//! a history entry for our layer, and `created`.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use oci_spec::image::{
    ConfigBuilder, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, RootFsBuilder,
};

use super::platform::Platform;
use crate::digest::Sha256Sum;

/// The runtime settings and metadata that flags put into the config.
#[derive(Debug, Clone, Default)]
pub struct ImageSettings {
    /// `--env`, in order, later values of a name already replaced in place.
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// `--annotation`, for the manifest (and index).
    pub annotations: Vec<(String, String)>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// `--expose`, normalised to `PORT/PROTO`, sorted and without duplicates.
    pub expose: Vec<String>,
    /// Seconds since the epoch: SOURCE_DATE_EPOCH, or the time of the build.
    pub created: i64,
    /// The history entry's `created_by`: the command without host paths.
    pub created_by: String,
}

/// The configuration of the image for one platform whose layers have these diff_ids.
pub fn build_config(
    s: &ImageSettings,
    platform: &Platform,
    diff_ids: &[Sha256Sum],
) -> Result<ImageConfiguration> {
    let created = rfc3339(s.created);
    let mut config = ConfigBuilder::default();
    if !s.env.is_empty() {
        config = config.env(
            s.env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        );
    }
    if !s.labels.is_empty() {
        config = config.labels(s.labels.iter().cloned().collect::<HashMap<_, _>>());
    }
    if let Some(ep) = &s.entrypoint {
        config = config.entrypoint(ep.clone());
    }
    if let Some(cmd) = &s.cmd {
        config = config.cmd(cmd.clone());
    }
    if let Some(dir) = &s.workdir {
        config = config.working_dir(dir.clone());
    }
    if let Some(user) = &s.user {
        config = config.user(user.clone());
    }
    if !s.expose.is_empty() {
        config = config.exposed_ports(s.expose.clone());
    }
    let config = config.build().context("building the image config")?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(diff_ids.iter().map(Sha256Sum::prefixed).collect::<Vec<_>>())
        .build()
        .context("building the image config's rootfs")?;
    let history = HistoryBuilder::default()
        .created(created.clone())
        .created_by(s.created_by.clone())
        .comment("context directory layer")
        .build()
        .context("building the image history")?;
    let mut builder = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(platform.arch())
        .os(platform.os())
        .rootfs(rootfs)
        .history(vec![history]);
    if let Some(v) = &platform.variant {
        builder = builder.variant(v.clone());
    }
    let mut image = builder.build().context("building the image config")?;
    if config != Default::default() {
        image.set_config(Some(config));
    }
    Ok(image)
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
        let cfg = build_config(&s, &p, &[Sha256Sum::of(b"x")]).unwrap();
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
    fn empty_settings_leave_config_out() {
        let p = Platform::parse("linux/amd64").unwrap();
        let cfg = build_config(&ImageSettings::default(), &p, &[]).unwrap();
        let v = serde_json::to_value(&cfg).unwrap();
        assert!(v.get("config").is_none());
    }
}
