//! Checked options: `BuildArgs` from clap plus the environment (`SOURCE_DATE_EPOCH`) become a
//! `BuildOptions` before a single file is opened. Every error names its flag and says what
//! would be accepted.

mod docker;
mod files;
mod layers;
pub mod registry;

pub use self::layers::{PlatformContext, check_platforms as check_platform_contexts};

use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::cli::{BuildArgs, CompressionChoice, OutputFormat};
use crate::compress::{Algorithm, Compression};
use crate::context::dockerignore::DockerIgnore;
use crate::context::split::LayerPattern;
use crate::context::{IgnoreOptions, OutputInContext};
use crate::error::UsageError;
use crate::image::Platform;
use crate::image::config::ImageSettings;
use crate::image::reference::ImageRef;
use crate::layer::HeaderOptions;
use crate::sink::{Format, Target};

/// Everything a build needs to know, as plain data: see [`BuildOptions::new`] for the
/// defaults. `imgbuild build` fills it from its flags and `SOURCE_DATE_EPOCH`.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The context directory, resolved (the one path we follow symlinks for).
    pub context: PathBuf,
    /// The context as the user wrote it, for messages.
    pub context_arg: PathBuf,
    /// The platforms to build, in order (one image each, sharing the context layer).
    pub platforms: Vec<Platform>,
    /// `--platform` was given (otherwise a single-image base decides the platform).
    pub platforms_explicit: bool,
    /// The base image under the context layer, if any.
    pub base: Option<ImageRef>,
    /// Tags for `index.json` and Docker's `manifest.json`.
    pub tags: Vec<String>,
    /// Config fields: env, labels, annotations, entrypoint, cmd, workdir, user, ports,
    /// creation time and history entry.
    pub settings: ImageSettings,
    /// How context entries become tar headers: prefix, owner, modes, mtime clamp.
    pub header: HeaderOptions,
    /// The layers' compression and level.
    pub compression: Compression,
    /// `--layer` patterns, in order: each gives a layer of the entries it matches, below
    /// the last layer with everything else (none: one layer).
    pub layers: Vec<LayerPattern>,
    /// `--platform-context`: one more layer on top for a platform's image.
    pub platform_contexts: Vec<PlatformContext>,
    /// The layer cache (`None`: every layer is built from the files and nothing is kept;
    /// the command line uses `<cache-dir>/layers` unless `--no-cache`).
    pub cache: Option<CacheOptions>,
    /// Which ignore rules apply, and where the output sits inside the context.
    pub ignore: IgnoreOptions,
    /// `SOURCE_DATE_EPOCH` / `--source-date-epoch`, when given.
    pub source_date_epoch: Option<i64>,
    /// `--check-reproducible`: build twice and compare every blob before committing.
    pub check_reproducible: bool,
    /// How registries are reached, for a base in one (`None`: bases are read from disk
    /// only).
    pub registry: Option<crate::registry::RegistryOptions>,
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError::new(msg).into()
}

fn usage_hint(msg: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    UsageError::new(msg).with_hint(hint).into()
}

impl BuildOptions {
    /// Options for building `context` with every default: one linux/amd64 image, no base, gzip at level 6, `.dockerignore` and `.gitignore` rules,
    /// modes and mtimes as on disk, `created` = `created` seconds since the epoch (pass a
    /// fixed value, as `SOURCE_DATE_EPOCH` does, for a reproducible image). Fields are
    /// plain data: change them before calling [`crate::build::prepare`].
    pub fn new(context: &Path, created: i64) -> crate::Result<Self> {
        Self::defaults(context, created).map_err(crate::Error::from)
    }

    fn defaults(context: &Path, created: i64) -> Result<Self> {
        Ok(BuildOptions {
            context: resolve_context(context)?,
            context_arg: context.to_path_buf(),
            platforms: parse_platforms(&[])?,
            platforms_explicit: false,
            base: None,
            tags: Vec::new(),
            settings: ImageSettings {
                created,
                created_by: "imgbuild build".into(),
                ..ImageSettings::default()
            },
            header: HeaderOptions::default(),
            compression: Compression::new(Algorithm::Gzip, None)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            layers: Vec::new(),
            platform_contexts: Vec::new(),
            cache: None,
            ignore: IgnoreOptions::default(),
            source_date_epoch: None,
            check_reproducible: false,
            registry: None,
        })
    }

    /// Check the flags of `imgbuild build` and turn them into options and the output they
    /// name; `env_epoch` is `SOURCE_DATE_EPOCH` as the environment has it, `now` the time of
    /// the build.
    pub fn from_args(
        args: &BuildArgs,
        env_epoch: Option<String>,
        now: i64,
    ) -> Result<(BuildOptions, Option<Output>)> {
        let context = resolve_context(&args.context)?;
        let format = match args.format {
            OutputFormat::OciArchive => Format::OciArchive,
            OutputFormat::OciDir => Format::OciDir,
            OutputFormat::DockerArchive => Format::DockerSave,
        };
        let target = output_target(args)?;
        // Refused early (an oci-dir inside the context), before the output is claimed.
        if let Some(Target::Path(p)) = &target {
            outputs_in_context(&context, p, format)?;
        }
        let platforms = parse_platforms(&args.platform)?;
        let docker_save = format == Format::DockerSave;
        if docker_save {
            docker::check(args, &platforms)?;
        }
        let base = args
            .base
            .as_deref()
            .map(|b| ImageRef::parse(b).map_err(|e| usage(format!("invalid --base {e}"))))
            .transpose()?;
        let source_date_epoch = match (&args.source_date_epoch, env_epoch) {
            (Some(v), _) => Some(parse_epoch("--source-date-epoch", v)?),
            (None, Some(v)) => Some(parse_epoch("SOURCE_DATE_EPOCH", &v)?),
            (None, None) => None,
        };
        // A docker archive's layers are uncompressed tars: made so, not decompressed later.
        let default = if docker_save {
            CompressionChoice::None
        } else {
            CompressionChoice::Gzip
        };
        let algorithm = match args.compression.unwrap_or(default) {
            CompressionChoice::Gzip => Algorithm::Gzip,
            CompressionChoice::Zstd => Algorithm::Zstd,
            CompressionChoice::None => Algorithm::None,
        };
        let compression = Compression::new(algorithm, args.compression_level)
            .map_err(|e| usage(format!("invalid --compression-level: {e}")))?;
        for tag in &args.tags {
            check_tag(tag)?;
        }
        let prefix = match &args.prefix {
            Some(p) => parse_prefix(p)?,
            None => Vec::new(),
        };
        let owner = match &args.chown {
            Some(c) => parse_chown(c)?,
            None => (0, 0),
        };
        let extra = read_ignore_file(args)?;
        let settings = image_settings(args, &prefix, source_date_epoch.unwrap_or(now))?;
        let options = BuildOptions {
            context,
            context_arg: args.context.clone(),
            platforms: platforms.clone(),
            platforms_explicit: !args.platform.is_empty(),
            base,
            tags: args.tags.clone(),
            settings,
            header: HeaderOptions {
                prefix,
                owner,
                normalize_modes: args.normalize_modes,
                clamp_mtime: source_date_epoch,
            },
            compression,
            layers: layers::parse_layer_patterns(&args.layers)?,
            platform_contexts: layers::parse_platform_contexts(
                &args.platform_contexts,
                &platforms,
                !args.platform.is_empty(),
            )?,
            cache: None,
            ignore: IgnoreOptions {
                no_ignore: args.no_ignore,
                extra,
                output: Vec::new(),
            },
            source_date_epoch,
            check_reproducible: args.check_reproducible,
            registry: None,
        };
        Ok((options, target.map(|target| Output { format, target })))
    }
}

/// Where the layer cache is and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// The cache's directory (`<cache-dir>/layers`).
    pub dir: PathBuf,
    /// Least recently used layers are evicted past this many bytes of blobs.
    pub max_size: u64,
}

/// The output `imgbuild build`'s flags name: open it with [`crate::sink::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// `--format`.
    pub format: Format,
    /// `-o`: a path, or stdout.
    pub target: Target,
}

/// Where `-o` sends the image: stdout for `-` or no `-o` (refused on a terminal).
/// With `--push` and no `-o`, nothing is written locally (`None`).
fn output_target(args: &BuildArgs) -> Result<Option<Target>> {
    let target = match &args.output {
        Some(p) if p.as_os_str() == "-" => Target::Stdout,
        Some(p) if p.as_os_str().as_bytes().starts_with(b"type=") => {
            return Err(usage_hint(
                format!(
                    "-o '{}' is buildx's syntax; imgbuild's -o is a path",
                    p.display()
                ),
                "write -o app.tar for an OCI archive, or --format oci-dir -o DIR for a layout",
            ));
        }
        Some(p) => Target::Path(p.clone()),
        None if args.push => return Ok(None),
        None if std::io::stdout().is_terminal() => {
            return Err(usage_hint(
                "no output given and stdout is a terminal",
                "pass -o app.tar (or --format oci-dir -o DIR), or pipe stdout into a program",
            ));
        }
        None => Target::Stdout,
    };
    Ok(Some(target))
}

/// The output's places inside the context (also its link target's), to be left out of the
/// walk; an output directory inside the context is refused.
pub(crate) fn outputs_in_context(
    context: &Path,
    output: &Path,
    format: Format,
) -> Result<Vec<OutputInContext>> {
    let mut output_in_context = Vec::new();
    output_in_context.extend(output_inside(context, output, format)?);
    // A symbolic link's target is what gets replaced: leave it out too.
    if let Ok((real, _)) = crate::sink::output::resolve(output)
        && real != *output
    {
        output_in_context.extend(output_inside(context, &real, format)?);
    }
    Ok(output_in_context)
}

/// `--ignore-file`, read and parsed.
fn read_ignore_file(args: &BuildArgs) -> Result<Option<DockerIgnore>> {
    let mut extra = None;
    if let Some(file) = &args.ignore_file {
        let text = std::fs::read(file)
            .with_context(|| format!("reading --ignore-file '{}'", file.display()))?;
        extra = Some(DockerIgnore::parse(
            &String::from_utf8_lossy(&text),
            &file.display().to_string(),
        )?);
    }
    Ok(extra)
}

/// The config's settings and history line from the flags; `created` in seconds since the
/// epoch.
fn image_settings(args: &BuildArgs, prefix: &[u8], created: i64) -> Result<ImageSettings> {
    // No version: a new release must not change every image's digest. A user who wants
    // it recorded says so with --label or --annotation.
    let mut created_by = String::from("imgbuild build");
    if !prefix.is_empty() {
        created_by.push_str(&format!(" --prefix /{}", String::from_utf8_lossy(prefix)));
    }
    // A file's entries first, so a flag on the command line wins.
    let from_files = |flag: &str, files: &[PathBuf], flags: &[String]| -> Result<Vec<String>> {
        let mut all = Vec::new();
        for f in files {
            all.extend(files::read_kv_file(flag, f)?);
        }
        all.extend(flags.iter().cloned());
        Ok(all)
    };
    let env = from_files("--env-file", &args.env_files, &args.env)?;
    let labels = from_files("--label-file", &args.label_files, &args.labels)?;
    let settings = ImageSettings {
        env: parse_kv_list("--env", &env)?,
        labels: parse_kv_list("--label", &labels)?,
        annotations: parse_kv_list("--annotation", &args.annotations)?,
        entrypoint: args
            .entrypoint
            .as_deref()
            .map(|s| parse_cmd("--entrypoint", s))
            .transpose()?,
        cmd: args
            .cmd
            .as_deref()
            .map(|s| parse_cmd("--cmd", s))
            .transpose()?,
        workdir: args.workdir.as_deref().map(parse_workdir).transpose()?,
        user: args.user.as_deref().map(parse_user).transpose()?,
        expose: parse_expose(&args.expose)?,
        stop_signal: args
            .stop_signal
            .as_deref()
            .map(files::parse_stop_signal)
            .transpose()?,
        volumes: files::parse_volumes(&args.volumes)?,
        created,
        created_by,
    };
    Ok(settings)
}

fn resolve_context(path: &Path) -> Result<PathBuf> {
    let resolved = std::fs::canonicalize(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            usage_hint(
                format!("build context '{}' does not exist", path.display()),
                "pass the directory whose contents should become the image",
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot read build context '{}'", path.display()))
        }
    })?;
    if !resolved.is_dir() {
        return Err(usage_hint(
            format!("build context '{}' is not a directory", path.display()),
            "pass the directory whose contents should become the image",
        ));
    }
    Ok(resolved)
}

/// Where the output lands relative to the context. An output file inside the context
/// (`build . -o app.tar`, the common way to run a builder) is left out of the walk, with its
/// temporary files; an output directory there (`--format oci-dir`) is refused, since the
/// build would read the layout it is writing.
fn output_inside(context: &Path, output: &Path, format: Format) -> Result<Option<OutputInContext>> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(parent) = std::fs::canonicalize(parent) else {
        return Ok(None); // the sink reports a missing directory with its own message
    };
    let full = match output.file_name() {
        Some(name) => parent.join(name),
        None => parent.clone(),
    };
    let Ok(rel_dir) = parent.strip_prefix(context) else {
        return Ok(None);
    };
    let refuse = || {
        Err(usage_hint(
            format!(
                "output directory '{}' is inside the build context '{}'",
                output.display(),
                context.display()
            ),
            "write the layout outside the directory being built, or write an archive \
             (-o app.tar), which may sit inside it",
        ))
    };
    let name = match output.file_name() {
        Some(n) if n != ".." => n,
        _ => return refuse(),
    };
    if format == Format::OciDir || full == context || full.is_dir() {
        return refuse();
    }
    Ok(Some(OutputInContext {
        rel_dir: rel_dir.as_os_str().as_bytes().to_vec(),
        name: name.as_bytes().to_vec(),
    }))
}

/// `--platform` values (each may list several, comma-separated) as platforms without
/// duplicates; none gives the default target.
pub fn parse_platforms(values: &[String]) -> Result<Vec<Platform>> {
    if values.is_empty() {
        return Ok(vec![Platform::default_target()]);
    }
    let mut out: Vec<Platform> = Vec::new();
    for v in values {
        let p = Platform::parse(v).map_err(|e| usage(format!("invalid --platform {e}")))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

pub(crate) fn parse_epoch(name: &str, v: &str) -> Result<i64> {
    let t = v.trim();
    if t.is_empty() {
        // `SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)` outside a repository gives this; a
        // build that ignored it would silently not be reproducible.
        return Err(usage_hint(
            format!("{name} is set but empty: expected a whole number of seconds since 1970-01-01"),
            "unset it for a build stamped with the current time, or set it, for example \
             SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) inside a git checkout",
        ));
    }
    match t.parse::<i64>() {
        Ok(n) if (0..=253_402_300_799).contains(&n) => Ok(n),
        _ => Err(usage_hint(
            format!("invalid {name} '{v}': expected a whole number of seconds since 1970-01-01"),
            "for example SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
        )),
    }
}

fn parse_kv_list(flag: &str, values: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for v in values {
        let Some((k, val)) = v.split_once('=') else {
            return Err(usage_hint(
                format!("invalid {flag} '{v}': expected KEY=VALUE"),
                format!("write {flag} NAME=value (the value may be empty: {flag} NAME=)"),
            ));
        };
        if k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(usage(format!(
                "invalid {flag} '{v}': the key must be non-empty, without spaces"
            )));
        }
        match out.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = val.to_owned(),
            None => out.push((k.to_owned(), val.to_owned())),
        }
    }
    Ok(out)
}

/// A JSON array of strings, or words split as a POSIX shell would.
pub fn parse_cmd(flag: &str, v: &str) -> Result<Vec<String>> {
    let t = v.trim_start();
    if t.starts_with('[') {
        return serde_json::from_str::<Vec<String>>(t).map_err(|e| {
            usage_hint(
                format!("invalid {flag} '{v}': not a JSON array of strings ({e})"),
                format!(r#"write {flag} '["/bin/app", "--flag"]' or {flag} "/bin/app --flag""#),
            )
        });
    }
    shell_words::split(v)
        .map_err(|e| usage(format!("invalid {flag} '{v}': {e} (check the quotes)")))
}

fn parse_workdir(v: &str) -> Result<String> {
    if !v.starts_with('/') {
        return Err(usage(format!(
            "invalid --workdir '{v}': it must be an absolute path"
        )));
    }
    Ok(v.to_owned())
}

fn parse_user(v: &str) -> Result<String> {
    if v.is_empty()
        || v.chars().any(|c| c.is_whitespace() || c.is_control())
        || v.matches(':').count() > 1
    {
        return Err(usage(format!(
            "invalid --user '{v}': expected USER, UID, USER:GROUP or UID:GID"
        )));
    }
    Ok(v.to_owned())
}

fn parse_expose(values: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in values {
        let (port, proto) = v.split_once('/').unwrap_or((v, "tcp"));
        let proto = proto.to_ascii_lowercase();
        let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
        if !port_ok || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(usage(format!(
                "invalid --expose '{v}': expected PORT[/tcp|udp|sctp] with a port from 1 to 65535"
            )));
        }
        out.push(format!(
            "{}/{proto}",
            port.parse::<u16>().unwrap_or_default()
        ));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn parse_chown(v: &str) -> Result<(u64, u64)> {
    let (u, g) = v.split_once(':').unwrap_or((v, v));
    match (u.parse::<u32>(), g.parse::<u32>()) {
        (Ok(u), Ok(g)) => Ok((u64::from(u), u64::from(g))),
        _ => Err(usage_hint(
            format!("invalid --chown '{v}': expected numeric UID:GID"),
            "user and group names cannot be resolved without the image's /etc/passwd; use numbers, e.g. --chown 1000:1000",
        )),
    }
}

/// `/app/data` → `app/data`; `..` is refused, `.` and empty components dropped.
fn parse_prefix(v: &str) -> Result<Vec<u8>> {
    if !v.starts_with('/') {
        return Err(usage(format!(
            "invalid --prefix '{v}': it must be an absolute path such as /app"
        )));
    }
    let mut parts = Vec::new();
    for c in v.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(usage(format!(
                    "invalid --prefix '{v}': '..' is not allowed"
                )));
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/").into_bytes())
}

/// A `-t/--tag` value must be a reference that `podman load` and registries accept.
pub(crate) fn check_tag(tag: &str) -> Result<()> {
    crate::image::reference::check_tag_reference(tag).map_err(|why| {
        usage_hint(
            format!("invalid --tag '{tag}': {why}"),
            "a tag looks like NAME:TAG or HOST[:PORT]/PATH/NAME:TAG, for example app:1.4 or \
             localhost:5000/team/app:1.4 (repository names are lowercase)",
        )
    })
}

#[cfg(test)]
mod tests;
