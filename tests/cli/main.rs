//! The one integration-test binary: a module per theme.

mod api; // the library used from Rust: options, prepare, build, read back (#10)
mod base; // --base and several platforms
mod build; // what goes into the layer, config and output
mod checker; // our own image validator, run on every image built
mod docs; // completions/, man/ and --help examples stay fresh
mod errors; // bad input, exit codes, no partial output, interrupts
mod export; // export: conversions, flattened rootfs, hostile images refused (#5)
mod export_interop; // inspect/export with images from umoci and skopeo, podman load (#5)
mod hostile; // hand-made images, hostile ones included, for inspect and export
mod ignore; // .dockerignore / .gitignore / .git / -v
mod inspect; // inspect: summary, --json, --raw, --files, --verify (#5)
mod interop; // skopeo, umoci, oci-image-tool, podman, runc
mod issue10_errors; // typed errors, reasons as values (#10)
mod issue10_output; // the Printer is the only output; progress frames (#10, #12)
mod issue11_faults; // retries, 413, one-request uploads, Ctrl-C mid-push, podman run (#11)
mod issue11_registry; // build --push, push, pulls, TLS, auth against a real registry (#11)
mod issue12_cli; // hints that work, bare architectures, buildx -o refused, ignored paths, tags (#12)
mod issue12_examples; // every README sh command and --help example runs verbatim (#12)
mod issue12_scratch; // the scratch directory, fixtures and script runner of issue12_examples
mod issue13_layers; // --layer, --platform-context: layers, unpacking, history, podman run (#13)
mod issue13_cache; // the layer cache in builds: reuse, wrong-hit traps, damage, concurrency, bounds (#13)
mod issue13_cache_cmd; // cache info, cache prune: the layer cache's state and cleaning (#13)
mod issue13_docker_archive; // build --format docker-archive: the classic docker save form (#13)
mod issue9_base; // base layers verified while copied (#9)
mod issue9_build; // reproducible gzip, --check-reproducible, base diff_ids, inputs (#9)
mod issue9_flatten; // flattening memory bounds, rootfs-dir 0700 (#9)
mod issue9_images; // untrusted images: per-descriptor verify, layouts, archives (#9)
mod issue9_output_text; // control bytes escaped, no panics in formatting (#9)
mod issue9_signals_outputs; // double signals, special output paths (#9)
mod registry; // test registries (docker-registry), token server, fault proxy: the harness
mod registry_login; // login/logout: the docker config written and cleaned, no password shown (#11)
mod reproducible; // byte-identical rebuilds across processes
mod snapshot; // filesystem tree snapshots for comparing unpacked images
mod ui; // progress bar on a pty, plain progress, colors
mod util; // TestContext and the clean command
