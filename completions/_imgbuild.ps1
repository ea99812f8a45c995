
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'imgbuild' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'imgbuild'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'imgbuild' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('build', 'build', [CompletionResultType]::ParameterValue, 'Build an image from a directory')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what is inside an image on disk')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Convert an image to another format, or flatten it into a root filesystem')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Push an image on disk to registries, unchanged (same digests)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Store credentials for a registry (they are checked on first use, not now)')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove the stored credentials for a registry')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Show or prune the local layer cache')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imgbuild;build' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the image: a file, a directory (with --format oci-dir), or - for stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the image: a file, a directory (with --format oci-dir), or - for stdout')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Target platform(s) as OS/ARCH[/VARIANT], comma-separated or repeated; several give an image index [default: linux/amd64, or the base image''s platform]')
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'Put the context on top of this image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG], a path, or docker://HOST/REPO[:TAG] (a bare reference when no such file exists); may end in @sha256:DIGEST')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Tag the image NAME[:TAG] (repeatable); recorded exactly as given')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Tag the image NAME[:TAG] (repeatable); recorded exactly as given')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Set an environment variable in the image (repeatable)')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'Set a label in the image config (repeatable)')
            [CompletionResult]::new('--annotation', '--annotation', [CompletionResultType]::ParameterName, 'Set an annotation on the manifest (repeatable)')
            [CompletionResult]::new('--entrypoint', '--entrypoint', [CompletionResultType]::ParameterName, 'The program to run: a JSON array, or words split as a shell would ('''' clears it)')
            [CompletionResult]::new('--cmd', '--cmd', [CompletionResultType]::ParameterName, 'Default arguments (or command): a JSON array, or words split as a shell would')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Working directory of the container (absolute)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User (and group) the container runs as')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Read environment variables from a file of KEY=VALUE lines (# comments; repeatable); --env wins')
            [CompletionResult]::new('--label-file', '--label-file', [CompletionResultType]::ParameterName, 'Read labels from a file of KEY=VALUE lines (# comments; repeatable); --label wins')
            [CompletionResult]::new('--stop-signal', '--stop-signal', [CompletionResultType]::ParameterName, 'The signal that stops the container (SIGTERM, SIGQUIT, or a number)')
            [CompletionResult]::new('--volume', '--volume', [CompletionResultType]::ParameterName, 'Declare a volume: an absolute path in the container (repeatable)')
            [CompletionResult]::new('--expose', '--expose', [CompletionResultType]::ParameterName, 'Declare a port the container listens on (repeatable)')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Place the context under this absolute path in the image (parents are created)')
            [CompletionResult]::new('--chown', '--chown', [CompletionResultType]::ParameterName, 'Owner of every entry, as numeric UID:GID [default: 0:0]')
            [CompletionResult]::new('--compression', '--compression', [CompletionResultType]::ParameterName, 'Layer compression [default: gzip; none with --format docker-archive]')
            [CompletionResult]::new('--compression-level', '--compression-level', [CompletionResultType]::ParameterName, 'Compression level (gzip 1-9, default 6; zstd 1-19, default 3)')
            [CompletionResult]::new('--ignore-file', '--ignore-file', [CompletionResultType]::ParameterName, 'One more file of .dockerignore patterns, applied after the context''s own')
            [CompletionResult]::new('--source-date-epoch', '--source-date-epoch', [CompletionResultType]::ParameterName, 'Clamp mtimes to this Unix time and use it as the creation time [env: SOURCE_DATE_EPOCH]')
            [CompletionResult]::new('--metadata-file', '--metadata-file', [CompletionResultType]::ParameterName, 'Also write the --json document to this file (replaced atomically), whatever goes to stdout; buildx calls it --metadata-file')
            [CompletionResult]::new('--json-file', '--json-file', [CompletionResultType]::ParameterName, 'Also write the --json document to this file (replaced atomically), whatever goes to stdout; buildx calls it --metadata-file')
            [CompletionResult]::new('--layer', '--layer', [CompletionResultType]::ParameterName, 'Put the entries this .dockerignore-style pattern matches (e.g. ''node_modules/**'') in a layer of their own (repeatable: one layer each, in order, below the rest)')
            [CompletionResult]::new('--cache-max-size', '--cache-max-size', [CompletionResultType]::ParameterName, 'Evict least recently used cached layers past this size (e.g. 10GiB, 500M)')
            [CompletionResult]::new('--platform-context', '--platform-context', [CompletionResultType]::ParameterName, 'Add DIR''s tree as one more layer on top, in PLATFORM''s image only (repeatable)')
            [CompletionResult]::new('--insecure-registry', '--insecure-registry', [CompletionResultType]::ParameterName, 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)')
            [CompletionResult]::new('--tls-verify', '--tls-verify', [CompletionResultType]::ParameterName, 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)')
            [CompletionResult]::new('--creds', '--creds', [CompletionResultType]::ParameterName, 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'Read registry credentials from this auth file (docker config.json or podman auth.json)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('--normalize-modes', '--normalize-modes', [CompletionResultType]::ParameterName, 'Store modes as 0755 (directories, executables) or 0644, independent of the umask')
            [CompletionResult]::new('--no-ignore', '--no-ignore', [CompletionResultType]::ParameterName, 'Include everything: .gitignore files apply by default (unlike Docker, so what git leaves out stays out), as do .dockerignore and --ignore-file; .git is still left out')
            [CompletionResult]::new('--check-reproducible', '--check-reproducible', [CompletionResultType]::ParameterName, 'Build the image a second time (walking and reading the tree again) and fail, writing nothing, unless every blob is byte-identical; names the first blob and tar entry that differ')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON document describing the image instead of the digest')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Build every layer from the files, neither reusing nor storing cached layers')
            [CompletionResult]::new('--push', '--push', [CompletionResultType]::ParameterName, 'Push the image to every -t HOST/REPO:TAG (with -o, also write the file)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;inspect' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Which platform''s manifest to show for a multi-platform image')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Print the exact stored bytes of a document')
            [CompletionResult]::new('--layer', '--layer', [CompletionResultType]::ParameterName, 'With --files: only this layer (0 is the bottom layer)')
            [CompletionResult]::new('--insecure-registry', '--insecure-registry', [CompletionResultType]::ParameterName, 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)')
            [CompletionResult]::new('--tls-verify', '--tls-verify', [CompletionResultType]::ParameterName, 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)')
            [CompletionResult]::new('--creds', '--creds', [CompletionResultType]::ParameterName, 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'Read registry credentials from this auth file (docker config.json or podman auth.json)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document instead of the human-readable summary')
            [CompletionResult]::new('--files', '--files', [CompletionResultType]::ParameterName, 'List the files of every layer (or of --layer N), like tar tv')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Read every blob and check digests, sizes and diff_ids; exit 3 if anything is wrong')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;export' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write: a file, a directory (oci-dir, rootfs-dir), or - for stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write: a file, a directory (oci-dir, rootfs-dir), or - for stdout')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Keep only this platform of a multi-platform image (required for rootfs formats when the image has several)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Name the exported image NAME[:TAG] (repeatable) instead of keeping its tags')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Name the exported image NAME[:TAG] (repeatable) instead of keeping its tags')
            [CompletionResult]::new('--insecure-registry', '--insecure-registry', [CompletionResultType]::ParameterName, 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)')
            [CompletionResult]::new('--tls-verify', '--tls-verify', [CompletionResultType]::ParameterName, 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)')
            [CompletionResult]::new('--creds', '--creds', [CompletionResultType]::ParameterName, 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'Read registry credentials from this auth file (docker config.json or podman auth.json)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON document describing what was written')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;push' {
            [CompletionResult]::new('--insecure-registry', '--insecure-registry', [CompletionResultType]::ParameterName, 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)')
            [CompletionResult]::new('--tls-verify', '--tls-verify', [CompletionResultType]::ParameterName, 'Verify registries'' TLS certificates (--tls-verify=false accepts any, with a warning)')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for registries, besides the system''s (repeatable)')
            [CompletionResult]::new('--creds', '--creds', [CompletionResultType]::ParameterName, 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'Read registry credentials from this auth file (docker config.json or podman auth.json)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON document of what was pushed instead of the digest')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;completions' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;login' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'The user name (asked for on a terminal when not given)')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'The user name (asked for on a terminal when not given)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'The password or token; discouraged: it lands in the shell''s history and the process list (use --password-stdin)')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'The password or token; discouraged: it lands in the shell''s history and the process list (use --password-stdin)')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'Store them in this file (podman''s auth.json format) instead of the docker config')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from the first line of stdin')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;logout' {
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'Remove them from this file (podman''s auth.json format) instead of the docker config')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;cache' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Show the layer cache''s directory, entries, size and last use')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove layers from the cache (always removes damaged or unreferenced files)')
            break
        }
        'imgbuild;cache;info' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'imgbuild''s cache directory; the layer cache is its layers/ [default: $XDG_CACHE_HOME/imgbuild]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON object instead of text')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;cache;prune' {
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Remove least recently used layers until the cache holds at most SIZE (500M, 10GiB)')
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Remove layers not used for this long (30m, 12h, 7d, 2w)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'imgbuild''s cache directory; the layer cache is its layers/ [default: $XDG_CACHE_HOME/imgbuild]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors on stderr')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How to show progress on stderr')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Remove every cached layer')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON object instead of text')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and the result on stdout')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'List ignored paths and why, and per-stage timings')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'imgbuild;help' {
            [CompletionResult]::new('build', 'build', [CompletionResultType]::ParameterValue, 'Build an image from a directory')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what is inside an image on disk')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Convert an image to another format, or flatten it into a root filesystem')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Push an image on disk to registries, unchanged (same digests)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Store credentials for a registry (they are checked on first use, not now)')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove the stored credentials for a registry')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Show or prune the local layer cache')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'imgbuild;help;build' {
            break
        }
        'imgbuild;help;inspect' {
            break
        }
        'imgbuild;help;export' {
            break
        }
        'imgbuild;help;push' {
            break
        }
        'imgbuild;help;completions' {
            break
        }
        'imgbuild;help;login' {
            break
        }
        'imgbuild;help;logout' {
            break
        }
        'imgbuild;help;cache' {
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Show the layer cache''s directory, entries, size and last use')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove layers from the cache (always removes damaged or unreferenced files)')
            break
        }
        'imgbuild;help;cache;info' {
            break
        }
        'imgbuild;help;cache;prune' {
            break
        }
        'imgbuild;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
