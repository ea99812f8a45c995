//! One module per subcommand: each turns checked options into calls down the pipeline and
//! reports the result through the `Printer`.

pub mod build;
pub mod cache;
pub mod completions;
pub mod export;
pub mod inspect;
pub mod login;
pub mod push;

use std::sync::Arc;

use anyhow::Result;

use crate::cli::RegistryArgs;
use crate::error::UsageError;
use crate::options::registry::{RegistryEnv, registry_options};
use crate::registry::{Reference, Registry};

/// A registry session from the registry flags and the environment. Nothing connects yet.
pub fn registry_session(args: &RegistryArgs) -> Result<Arc<Registry>> {
    let opts = registry_options(args, RegistryEnv::from_process())?;
    Ok(Arc::new(Registry::new(opts)))
}

/// A push target, `[docker://]HOST/REPO:TAG`, normalized as Docker does; `flag` names
/// the argument in messages.
pub fn push_target(value: &str, flag: &str) -> Result<Reference> {
    let name = value.strip_prefix("docker://").unwrap_or(value);
    let reference = Reference::try_from(name).map_err(|e| {
        anyhow::Error::new(
            UsageError::new(format!("invalid {flag} '{value}': {e}"))
                .with_hint("write HOST/REPO:TAG, for example localhost:5000/app:1"),
        )
    })?;
    if reference.digest().is_some() {
        return Err(UsageError::new(format!(
            "invalid {flag} '{value}': a push target is a tag, not a digest"
        ))
        .into());
    }
    Ok(reference)
}
