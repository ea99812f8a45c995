//! Value parsers that accept any text but tell shell completion what to offer.

use std::ffi::OsStr;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};

use crate::image::platform::CANDIDATES;

/// `--platform`: any text (a comma list is split before it, and `options` checks each part);
/// its possible values, the known platforms and aliases, feed the completion scripts. Set
/// `hide_possible_values` on the argument so that `--help` does not list them all.
#[derive(Debug, Clone, Copy)]
pub(super) struct PlatformValue;

impl TypedValueParser for PlatformValue {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let values = CANDIDATES
            .iter()
            .map(|(value, help)| PossibleValue::new(*value).help(*help));
        Some(Box::new(values))
    }
}
