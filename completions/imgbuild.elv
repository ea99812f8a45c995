
use builtin;
use str;

set edit:completion:arg-completer[imgbuild] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'imgbuild'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'imgbuild'= {
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand build 'Build an image from a directory'
            cand inspect 'Show what is inside an image on disk'
            cand export 'Convert an image to another format, or flatten it into a root filesystem'
            cand push 'Push an image on disk to registries, unchanged (same digests)'
            cand completions 'Print a shell completion script'
            cand login 'Store credentials for a registry (they are checked on first use, not now)'
            cand logout 'Remove the stored credentials for a registry'
            cand cache 'Show or prune the local layer cache'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imgbuild;build'= {
            cand -o 'Where to write the image: a file, a directory (with --format oci-dir), or - for stdout'
            cand --output 'Where to write the image: a file, a directory (with --format oci-dir), or - for stdout'
            cand --format 'Output format'
            cand --platform 'Target platform(s) as OS/ARCH[/VARIANT], comma-separated or repeated; several give an image index [default: linux/amd64, or the base image''s platform]'
            cand --base 'Put the context on top of this image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG], a path, or docker://HOST/REPO[:TAG] (a bare reference when no such file exists); may end in @sha256:DIGEST'
            cand -t 'Tag the image NAME[:TAG] (repeatable); recorded exactly as given'
            cand --tag 'Tag the image NAME[:TAG] (repeatable); recorded exactly as given'
            cand --env 'Set an environment variable in the image (repeatable)'
            cand --label 'Set a label in the image config (repeatable)'
            cand --annotation 'Set an annotation on the manifest (repeatable)'
            cand --entrypoint 'The program to run: a JSON array, or words split as a shell would ('''' clears it)'
            cand --cmd 'Default arguments (or command): a JSON array, or words split as a shell would'
            cand --workdir 'Working directory of the container (absolute)'
            cand --user 'User (and group) the container runs as'
            cand --env-file 'Read environment variables from a file of KEY=VALUE lines (# comments; repeatable); --env wins'
            cand --label-file 'Read labels from a file of KEY=VALUE lines (# comments; repeatable); --label wins'
            cand --stop-signal 'The signal that stops the container (SIGTERM, SIGQUIT, or a number)'
            cand --volume 'Declare a volume: an absolute path in the container (repeatable)'
            cand --expose 'Declare a port the container listens on (repeatable)'
            cand --prefix 'Place the context under this absolute path in the image (parents are created)'
            cand --chown 'Owner of every entry, as numeric UID:GID [default: 0:0]'
            cand --compression 'Layer compression [default: gzip; none with --format docker-archive]'
            cand --compression-level 'Compression level (gzip 1-9, default 6; zstd 1-19, default 3)'
            cand --ignore-file 'One more file of .dockerignore patterns, applied after the context''s own'
            cand --source-date-epoch 'Clamp mtimes to this Unix time and use it as the creation time [env: SOURCE_DATE_EPOCH]'
            cand --metadata-file 'Also write the --json document to this file (replaced atomically), whatever goes to stdout; buildx calls it --metadata-file'
            cand --json-file 'Also write the --json document to this file (replaced atomically), whatever goes to stdout; buildx calls it --metadata-file'
            cand --layer 'Put the entries this .dockerignore-style pattern matches (e.g. ''node_modules/**'') in a layer of their own (repeatable: one layer each, in order, below the rest)'
            cand --cache-max-size 'Evict least recently used cached layers past this size (e.g. 10GiB, 500M)'
            cand --platform-context 'Add DIR''s tree as one more layer on top, in PLATFORM''s image only (repeatable)'
            cand --insecure-registry 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)'
            cand --tls-verify 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)'
            cand --ca-cert 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)'
            cand --creds 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD'
            cand --authfile 'Read registry credentials from this auth file (docker config.json or podman auth.json)'
            cand --cache-dir 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand --normalize-modes 'Store modes as 0755 (directories, executables) or 0644, independent of the umask'
            cand --no-ignore 'Include everything: .gitignore files apply by default (unlike Docker, so what git leaves out stays out), as do .dockerignore and --ignore-file; .git is still left out'
            cand --check-reproducible 'Build the image a second time (walking and reading the tree again) and fail, writing nothing, unless every blob is byte-identical; names the first blob and tar entry that differ'
            cand --json 'Print a JSON document describing the image instead of the digest'
            cand --no-cache 'Build every layer from the files, neither reusing nor storing cached layers'
            cand --push 'Push the image to every -t HOST/REPO:TAG (with -o, also write the file)'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;inspect'= {
            cand --platform 'Which platform''s manifest to show for a multi-platform image'
            cand --raw 'Print the exact stored bytes of a document'
            cand --layer 'With --files: only this layer (0 is the bottom layer)'
            cand --insecure-registry 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)'
            cand --tls-verify 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)'
            cand --ca-cert 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)'
            cand --creds 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD'
            cand --authfile 'Read registry credentials from this auth file (docker config.json or podman auth.json)'
            cand --cache-dir 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand --json 'Print one JSON document instead of the human-readable summary'
            cand --files 'List the files of every layer (or of --layer N), like tar tv'
            cand --verify 'Read every blob and check digests, sizes and diff_ids; exit 3 if anything is wrong'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;export'= {
            cand -o 'Where to write: a file, a directory (oci-dir, rootfs-dir), or - for stdout'
            cand --output 'Where to write: a file, a directory (oci-dir, rootfs-dir), or - for stdout'
            cand --format 'Output format'
            cand --platform 'Keep only this platform of a multi-platform image (required for rootfs formats when the image has several)'
            cand -t 'Name the exported image NAME[:TAG] (repeatable) instead of keeping its tags'
            cand --tag 'Name the exported image NAME[:TAG] (repeatable) instead of keeping its tags'
            cand --insecure-registry 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)'
            cand --tls-verify 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)'
            cand --ca-cert 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)'
            cand --creds 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD'
            cand --authfile 'Read registry credentials from this auth file (docker config.json or podman auth.json)'
            cand --cache-dir 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand --json 'Print a JSON document describing what was written'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;push'= {
            cand --insecure-registry 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)'
            cand --tls-verify 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)'
            cand --ca-cert 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)'
            cand --creds 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD'
            cand --authfile 'Read registry credentials from this auth file (docker config.json or podman auth.json)'
            cand --cache-dir 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand --json 'Print a JSON document of what was pushed instead of the digest'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;completions'= {
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;login'= {
            cand -u 'The user name (asked for on a terminal when not given)'
            cand --username 'The user name (asked for on a terminal when not given)'
            cand -p 'The password or token; discouraged: it lands in the shell''s history and the process list (use --password-stdin)'
            cand --password 'The password or token; discouraged: it lands in the shell''s history and the process list (use --password-stdin)'
            cand --authfile 'Store them in this file (podman''s auth.json format) instead of the docker config'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand --password-stdin 'Read the password or token from the first line of stdin'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;logout'= {
            cand --authfile 'Remove them from this file (podman''s auth.json format) instead of the docker config'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;cache'= {
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand info 'Show the layer cache''s directory, entries, size and last use'
            cand prune 'Remove layers from the cache (always removes damaged or unreferenced files)'
        }
        &'imgbuild;cache;info'= {
            cand --cache-dir 'imgbuild''s cache directory; the layer cache is its layers/ [default: $XDG_CACHE_HOME/imgbuild]'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand --json 'Print a JSON object instead of text'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;cache;prune'= {
            cand --max-size 'Remove least recently used layers until the cache holds at most SIZE (500M, 10GiB)'
            cand --older-than 'Remove layers not used for this long (30m, 12h, 7d, 2w)'
            cand --cache-dir 'imgbuild''s cache directory; the layer cache is its layers/ [default: $XDG_CACHE_HOME/imgbuild]'
            cand --color 'When to use colors on stderr'
            cand --progress 'How to show progress on stderr'
            cand --all 'Remove every cached layer'
            cand --json 'Print a JSON object instead of text'
            cand -q 'Print nothing but errors and the result on stdout'
            cand --quiet 'Print nothing but errors and the result on stdout'
            cand -v 'List ignored paths and why, and per-stage timings'
            cand --verbose 'List ignored paths and why, and per-stage timings'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'imgbuild;help'= {
            cand build 'Build an image from a directory'
            cand inspect 'Show what is inside an image on disk'
            cand export 'Convert an image to another format, or flatten it into a root filesystem'
            cand push 'Push an image on disk to registries, unchanged (same digests)'
            cand completions 'Print a shell completion script'
            cand login 'Store credentials for a registry (they are checked on first use, not now)'
            cand logout 'Remove the stored credentials for a registry'
            cand cache 'Show or prune the local layer cache'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'imgbuild;help;build'= {
        }
        &'imgbuild;help;inspect'= {
        }
        &'imgbuild;help;export'= {
        }
        &'imgbuild;help;push'= {
        }
        &'imgbuild;help;completions'= {
        }
        &'imgbuild;help;login'= {
        }
        &'imgbuild;help;logout'= {
        }
        &'imgbuild;help;cache'= {
            cand info 'Show the layer cache''s directory, entries, size and last use'
            cand prune 'Remove layers from the cache (always removes damaged or unreferenced files)'
        }
        &'imgbuild;help;cache;info'= {
        }
        &'imgbuild;help;cache;prune'= {
        }
        &'imgbuild;help;help'= {
        }
    ]
    $completions[$command]
}
