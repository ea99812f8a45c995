//! Platforms: parse `os/arch[/variant]` with the common aliases, normalise them the way the
//! OCI image-index spec and containerd do, and convert to `oci_spec` values.

use std::fmt;

use oci_spec::image::{Arch, Os};

/// An OCI platform: operating system, architecture and optional variant, as written in
/// `--platform` (`linux/arm64/v8`) and in image indexes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// The operating system (`linux`).
    pub os: String,
    /// The architecture in OCI spelling (`amd64`, `arm64`, `arm`, `386`, …).
    pub architecture: String,
    /// The variant (`v8`, `v7`), if any.
    pub variant: Option<String>,
}

const KNOWN: &str = "linux/amd64, linux/arm64[/v8], linux/arm/v7, linux/arm/v6, linux/386, \
                     linux/ppc64le, linux/s390x, linux/riscv64, or an architecture alone (amd64, \
                     arm64, ...) or alias (x86_64, aarch64, armhf, armel, i386, i686)";

/// What shell completion offers for `--platform` (each parses; any other value is still
/// accepted and checked by [`Platform::parse`]): the platforms README lists, then each
/// architecture and alias alone, which means linux.
pub const CANDIDATES: &[(&str, &str)] = &[
    ("linux/amd64", "64-bit x86"),
    ("linux/arm64", "64-bit Arm (stored as variant v8)"),
    ("linux/arm64/v8", "64-bit Arm"),
    ("linux/arm/v7", "32-bit Arm, hard float"),
    ("linux/arm/v6", "32-bit Arm (Raspberry Pi 1, Zero)"),
    ("linux/386", "32-bit x86"),
    ("linux/ppc64le", "64-bit POWER, little-endian"),
    ("linux/s390x", "IBM Z"),
    ("linux/riscv64", "64-bit RISC-V"),
    ("amd64", "linux/amd64"),
    ("arm64", "linux/arm64/v8"),
    ("arm", "linux/arm/v7"),
    ("386", "linux/386"),
    ("ppc64le", "linux/ppc64le"),
    ("s390x", "linux/s390x"),
    ("riscv64", "linux/riscv64"),
    ("x86_64", "alias of linux/amd64"),
    ("aarch64", "alias of linux/arm64/v8"),
    ("armhf", "alias of linux/arm/v7"),
    ("armel", "alias of linux/arm/v6"),
    ("i386", "alias of linux/386"),
    ("i686", "alias of linux/386"),
];

/// Whether `word` names an architecture (not an OS): a bare `aarch64` is `linux/aarch64`.
fn is_arch(word: &str) -> bool {
    matches!(
        word,
        "amd64"
            | "x86_64"
            | "x86-64"
            | "arm64"
            | "aarch64"
            | "arm"
            | "armhf"
            | "armel"
            | "386"
            | "i386"
            | "i686"
            | "x86"
            | "ppc64le"
            | "s390x"
            | "riscv64"
    )
}

impl Platform {
    /// Parse and normalise: `x86_64`→`amd64`, `aarch64`→`arm64` (variant `v8`), `armhf`→
    /// `arm/v7`, `armel`→`arm/v6`, `i386`/`i686`→`386`; `arm` defaults to `v7`, `arm64` to `v8`.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let lower = text.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        // As containerd does: an architecture alone, or ARCH/VARIANT, is for linux.
        let (os, arch, variant) = match parts.as_slice() {
            [arch] if is_arch(arch) => ("linux", *arch, None),
            [arch, variant] if is_arch(arch) => ("linux", *arch, Some(*variant)),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => {
                return Err(format!(
                    "'{text}' is not a platform: write OS/ARCH[/VARIANT], one of {KNOWN}"
                ));
            }
        };
        if os != "linux" {
            return Err(format!(
                "'{text}': only linux images can be built from a directory (accepted: {KNOWN})"
            ));
        }
        let (arch, default_variant) = match arch {
            "amd64" | "x86_64" | "x86-64" => ("amd64", None),
            "arm64" | "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "armhf" => ("arm", Some("v7")),
            "armel" => ("arm", Some("v6")),
            "386" | "i386" | "i686" | "x86" => ("386", None),
            "ppc64le" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            _ => {
                return Err(format!(
                    "'{text}': unknown architecture '{arch}' (accepted: {KNOWN})"
                ));
            }
        };
        let variant = match (arch, variant) {
            (_, None) => default_variant.map(str::to_owned),
            ("arm64", Some("v8" | "8")) => Some("v8".to_owned()),
            ("arm", Some(v @ ("v5" | "v6" | "v7" | "5" | "6" | "7"))) => {
                Some(format!("v{}", v.trim_start_matches('v')))
            }
            ("amd64", Some(v @ ("v1" | "v2" | "v3" | "v4"))) => Some(v.to_owned()),
            (_, Some(v)) => {
                return Err(format!(
                    "'{text}': '{v}' is not a variant of {arch} (accepted: {KNOWN})"
                ));
            }
        };
        Ok(Platform {
            os: os.to_owned(),
            architecture: arch.to_owned(),
            variant,
        })
    }

    /// A platform as an image states it, normalised like `parse` where it can be (an arm64
    /// or arm image without a variant is v8 or v7), kept as it is otherwise.
    pub fn from_image(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let text = match variant {
            Some(v) if !v.is_empty() => format!("{os}/{architecture}/{v}"),
            _ => format!("{os}/{architecture}"),
        };
        Platform::parse(&text).unwrap_or_else(|_| Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
        })
    }

    /// The platform an `oci_spec` platform describes.
    pub fn from_oci(p: &oci_spec::image::Platform) -> Platform {
        Platform::from_image(
            &p.os().to_string(),
            &p.architecture().to_string(),
            p.variant().as_deref(),
        )
    }

    /// The platform used when none is named: `linux/amd64`, on every host. It is what
    /// `build` targets without `--platform` and what is picked from an image that holds several
    /// platforms when none is asked for. The host never decides it, so the same command builds
    /// and reads the same image on any machine.
    pub fn default_target() -> Platform {
        Platform {
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
        }
    }

    /// The platform of the machine imgbuild runs on, as a Linux image platform. It only
    /// chooses which image of several a Docker archive's `manifest.json` names for
    /// `docker load` (the one that runs here); what is built or read defaults to
    /// [`Platform::default_target`].
    pub fn host() -> Option<Platform> {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "arm" => "arm",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            _ => return None,
        };
        Platform::parse(&format!("linux/{arch}")).ok()
    }

    /// The operating system as an `oci_spec` value.
    pub fn os(&self) -> Os {
        Os::from(self.os.as_str())
    }

    /// The architecture as an `oci_spec` value.
    pub fn arch(&self) -> Arch {
        Arch::from(self.architecture.as_str())
    }

    /// The platform as the `oci_spec` type that descriptors carry.
    pub fn to_oci(&self) -> oci_spec::image::Platform {
        let mut p = oci_spec::image::Platform::default();
        p.set_os(self.os());
        p.set_architecture(self.arch());
        p.set_variant(self.variant.clone());
        p
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_target_is_linux_amd64() {
        assert_eq!(
            Platform::default_target(),
            Platform::parse("linux/amd64").unwrap()
        );
        assert_eq!(Platform::default_target().to_string(), "linux/amd64");
    }

    macro_rules! parses {
        ($input:expr, $shown:expr) => {
            assert_eq!(
                Platform::parse($input).unwrap().to_string(),
                $shown,
                "{}",
                $input
            );
        };
    }
    macro_rules! rejects {
        ($input:expr, $needle:expr) => {
            let err = Platform::parse($input).unwrap_err();
            assert!(err.contains($needle), "{}: {err}", $input);
        };
    }

    #[test]
    fn a_bare_architecture_or_alias_is_for_linux() {
        parses!("aarch64", "linux/arm64/v8");
        parses!("arm64", "linux/arm64/v8");
        parses!("x86_64", "linux/amd64");
        parses!("armhf", "linux/arm/v7");
        parses!("arm/v6", "linux/arm/v6");
        parses!("i686", "linux/386");
        rejects!("sparc", "aarch64");
        rejects!("windows", "alias");
    }

    #[test]
    fn table() {
        parses!("linux/amd64", "linux/amd64");
        parses!("linux/x86_64", "linux/amd64");
        parses!("Linux/AMD64", "linux/amd64");
        parses!("linux/arm64", "linux/arm64/v8");
        parses!("linux/arm64/v8", "linux/arm64/v8");
        parses!("linux/aarch64", "linux/arm64/v8");
        parses!("linux/arm", "linux/arm/v7");
        parses!("linux/arm/v7", "linux/arm/v7");
        parses!("linux/arm/6", "linux/arm/v6");
        parses!("linux/armhf", "linux/arm/v7");
        parses!("linux/armel", "linux/arm/v6");
        parses!("linux/386", "linux/386");
        parses!("linux/i686", "linux/386");
        parses!("linux/ppc64le", "linux/ppc64le");
        parses!("linux/s390x", "linux/s390x");
        parses!("linux/riscv64", "linux/riscv64");
        rejects!("sparc", "OS/ARCH");
        rejects!("linux/amd64/v2/x", "OS/ARCH");
        rejects!("windows/amd64", "only linux");
        rejects!("linux/sparc", "unknown architecture 'sparc'");
        rejects!("linux/arm64/v7", "not a variant");
    }

    #[test]
    fn every_completion_candidate_parses_to_what_its_help_says() {
        for (value, help) in CANDIDATES {
            let parsed = Platform::parse(value).unwrap().to_string();
            if let Some(full) = help.strip_prefix("alias of ") {
                assert_eq!(parsed, full, "{value}");
            } else if help.starts_with("linux/") {
                assert_eq!(parsed, *help, "{value}");
            } else {
                assert!(parsed.starts_with(value), "{value}: {parsed}");
            }
        }
    }

    #[test]
    fn parse_display_is_identity_on_normal_forms() {
        for p in [
            "linux/amd64",
            "linux/arm64/v8",
            "linux/arm/v7",
            "linux/386",
            "linux/s390x",
        ] {
            let once = Platform::parse(p).unwrap();
            assert_eq!(Platform::parse(&once.to_string()).unwrap(), once);
        }
    }

    #[test]
    fn image_platforms_are_normalised_like_flags() {
        assert_eq!(
            Platform::from_image("linux", "arm64", None),
            Platform::parse("linux/arm64/v8").unwrap()
        );
        assert_eq!(
            Platform::from_image("linux", "arm", Some("")),
            Platform::parse("linux/arm/v7").unwrap()
        );
        assert_eq!(
            Platform::from_image("linux", "amd64", None).to_string(),
            "linux/amd64"
        );
        let odd = Platform::from_image("plan9", "mips", Some("x"));
        assert_eq!(odd.to_string(), "plan9/mips/x");
    }

    #[test]
    fn oci_values() {
        let p = Platform::parse("linux/arm64").unwrap().to_oci();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["architecture"], "arm64");
        assert_eq!(json["os"], "linux");
        assert_eq!(json["variant"], "v8");
    }
}
