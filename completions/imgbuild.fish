# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_imgbuild_global_optspecs
    string join \n q/quiet v/verbose color= progress= h/help V/version
end

function __fish_imgbuild_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_imgbuild_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_imgbuild_using_subcommand
    set -l cmd (__fish_imgbuild_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c imgbuild -n "__fish_imgbuild_needs_command" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_needs_command" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_needs_command" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "build" -d 'Build an image from a directory'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "inspect" -d 'Show what is inside an image on disk'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "export" -d 'Convert an image to another format, or flatten it into a root filesystem'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "push" -d 'Push an image on disk to registries, unchanged (same digests)'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "login" -d 'Store credentials for a registry (they are checked on first use, not now)'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "logout" -d 'Remove the stored credentials for a registry'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "cache" -d 'Show or prune the local layer cache'
complete -c imgbuild -n "__fish_imgbuild_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -s o -l output -d 'Where to write the image: a file, a directory (with --format oci-dir), or - for stdout' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l format -d 'Output format' -r -f -a "oci-archive\t'A tar of an OCI image layout, with Docker\'s manifest.json (docker/podman load)'
oci-dir\t'An OCI image layout directory'
docker-archive\t'A classic docker save archive (uncompressed layer.tar files; one platform)'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l platform -d 'Target platform(s) as OS/ARCH[/VARIANT], comma-separated or repeated; several give an image index [default: linux/amd64, or the base image\'s platform]' -r -f -a "linux/amd64\t'64-bit x86'
linux/arm64\t'64-bit Arm (stored as variant v8)'
linux/arm64/v8\t'64-bit Arm'
linux/arm/v7\t'32-bit Arm, hard float'
linux/arm/v6\t'32-bit Arm (Raspberry Pi 1, Zero)'
linux/386\t'32-bit x86'
linux/ppc64le\t'64-bit POWER, little-endian'
linux/s390x\t'IBM Z'
linux/riscv64\t'64-bit RISC-V'
amd64\t'linux/amd64'
arm64\t'linux/arm64/v8'
arm\t'linux/arm/v7'
386\t'linux/386'
ppc64le\t'linux/ppc64le'
s390x\t'linux/s390x'
riscv64\t'linux/riscv64'
x86_64\t'alias of linux/amd64'
aarch64\t'alias of linux/arm64/v8'
armhf\t'alias of linux/arm/v7'
armel\t'alias of linux/arm/v6'
i386\t'alias of linux/386'
i686\t'alias of linux/386'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l base -d 'Put the context on top of this image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG], a path, or docker://HOST/REPO[:TAG] (a bare reference when no such file exists); may end in @sha256:DIGEST' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -s t -l tag -d 'Tag the image NAME[:TAG] (repeatable); recorded exactly as given' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l env -d 'Set an environment variable in the image (repeatable)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l label -d 'Set a label in the image config (repeatable)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l annotation -d 'Set an annotation on the manifest (repeatable)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l entrypoint -d 'The program to run: a JSON array, or words split as a shell would (\'\' clears it)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l cmd -d 'Default arguments (or command): a JSON array, or words split as a shell would' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l workdir -d 'Working directory of the container (absolute)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l user -d 'User (and group) the container runs as' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l env-file -d 'Read environment variables from a file of KEY=VALUE lines (# comments; repeatable); --env wins' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l label-file -d 'Read labels from a file of KEY=VALUE lines (# comments; repeatable); --label wins' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l stop-signal -d 'The signal that stops the container (SIGTERM, SIGQUIT, or a number)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l volume -d 'Declare a volume: an absolute path in the container (repeatable)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l expose -d 'Declare a port the container listens on (repeatable)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l prefix -d 'Place the context under this absolute path in the image (parents are created)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l chown -d 'Owner of every entry, as numeric UID:GID [default: 0:0]' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l compression -d 'Layer compression [default: gzip; none with --format docker-archive]' -r -f -a "gzip\t'gzip (the most widely supported)'
zstd\t'zstd (faster, smaller; needs recent consumers)'
none\t'No compression'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l compression-level -d 'Compression level (gzip 1-9, default 6; zstd 1-19, default 3)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l ignore-file -d 'One more file of .dockerignore patterns, applied after the context\'s own' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l source-date-epoch -d 'Clamp mtimes to this Unix time and use it as the creation time [env: SOURCE_DATE_EPOCH]' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l metadata-file -l json-file -d 'Also write the --json document to this file (replaced atomically), whatever goes to stdout; buildx calls it --metadata-file' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l layer -d 'Put the entries this .dockerignore-style pattern matches (e.g. \'node_modules/**\') in a layer of their own (repeatable: one layer each, in order, below the rest)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l cache-max-size -d 'Evict least recently used cached layers past this size (e.g. 10GiB, 500M)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l platform-context -d 'Add DIR\'s tree as one more layer on top, in PLATFORM\'s image only (repeatable)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l insecure-registry -d 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l tls-verify -d 'Verify registries\' TLS certificates (--tls-verify=false accepts any, with a warning)' -r -f -a "true\t''
false\t''"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l ca-cert -d 'Trust this CA certificate (PEM) for registries, besides the system\'s (repeatable)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l creds -d 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l authfile -d 'Read registry credentials from this auth file (docker config.json or podman auth.json)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l cache-dir -d 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l normalize-modes -d 'Store modes as 0755 (directories, executables) or 0644, independent of the umask'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l no-ignore -d 'Include everything: .gitignore files apply by default (unlike Docker, so what git leaves out stays out), as do .dockerignore and --ignore-file; .git is still left out'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l check-reproducible -d 'Build the image a second time (walking and reading the tree again) and fail, writing nothing, unless every blob is byte-identical; names the first blob and tar entry that differ'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l json -d 'Print a JSON document describing the image instead of the digest'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l no-cache -d 'Build every layer from the files, neither reusing nor storing cached layers'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -l push -d 'Push the image to every -t HOST/REPO:TAG (with -o, also write the file)'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand build" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l platform -d 'Which platform\'s manifest to show for a multi-platform image' -r -f -a "linux/amd64\t'64-bit x86'
linux/arm64\t'64-bit Arm (stored as variant v8)'
linux/arm64/v8\t'64-bit Arm'
linux/arm/v7\t'32-bit Arm, hard float'
linux/arm/v6\t'32-bit Arm (Raspberry Pi 1, Zero)'
linux/386\t'32-bit x86'
linux/ppc64le\t'64-bit POWER, little-endian'
linux/s390x\t'IBM Z'
linux/riscv64\t'64-bit RISC-V'
amd64\t'linux/amd64'
arm64\t'linux/arm64/v8'
arm\t'linux/arm/v7'
386\t'linux/386'
ppc64le\t'linux/ppc64le'
s390x\t'linux/s390x'
riscv64\t'linux/riscv64'
x86_64\t'alias of linux/amd64'
aarch64\t'alias of linux/arm64/v8'
armhf\t'alias of linux/arm/v7'
armel\t'alias of linux/arm/v6'
i386\t'alias of linux/386'
i686\t'alias of linux/386'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l raw -d 'Print the exact stored bytes of a document' -r -f -a "index\t'The image index the reference names, or index.json when it names a single manifest'
manifest\t'The chosen platform\'s manifest'
config\t'The chosen platform\'s config'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l layer -d 'With --files: only this layer (0 is the bottom layer)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l insecure-registry -d 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l tls-verify -d 'Verify registries\' TLS certificates (--tls-verify=false accepts any, with a warning)' -r -f -a "true\t''
false\t''"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l ca-cert -d 'Trust this CA certificate (PEM) for registries, besides the system\'s (repeatable)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l creds -d 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l authfile -d 'Read registry credentials from this auth file (docker config.json or podman auth.json)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l cache-dir -d 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l json -d 'Print one JSON document instead of the human-readable summary'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l files -d 'List the files of every layer (or of --layer N), like tar tv'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -l verify -d 'Read every blob and check digests, sizes and diff_ids; exit 3 if anything is wrong'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -s o -l output -d 'Where to write: a file, a directory (oci-dir, rootfs-dir), or - for stdout' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l format -d 'Output format' -r -f -a "oci-archive\t'A tar of an OCI image layout, with Docker\'s manifest.json'
oci-dir\t'An OCI image layout directory'
docker-archive\t'A docker save archive (for docker load)'
rootfs-tar\t'The flattened filesystem of one platform as a tar stream'
rootfs-dir\t'The flattened filesystem of one platform, extracted into a new directory'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l platform -d 'Keep only this platform of a multi-platform image (required for rootfs formats when the image has several)' -r -f -a "linux/amd64\t'64-bit x86'
linux/arm64\t'64-bit Arm (stored as variant v8)'
linux/arm64/v8\t'64-bit Arm'
linux/arm/v7\t'32-bit Arm, hard float'
linux/arm/v6\t'32-bit Arm (Raspberry Pi 1, Zero)'
linux/386\t'32-bit x86'
linux/ppc64le\t'64-bit POWER, little-endian'
linux/s390x\t'IBM Z'
linux/riscv64\t'64-bit RISC-V'
amd64\t'linux/amd64'
arm64\t'linux/arm64/v8'
arm\t'linux/arm/v7'
386\t'linux/386'
ppc64le\t'linux/ppc64le'
s390x\t'linux/s390x'
riscv64\t'linux/riscv64'
x86_64\t'alias of linux/amd64'
aarch64\t'alias of linux/arm64/v8'
armhf\t'alias of linux/arm/v7'
armel\t'alias of linux/arm/v6'
i386\t'alias of linux/386'
i686\t'alias of linux/386'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -s t -l tag -d 'Name the exported image NAME[:TAG] (repeatable) instead of keeping its tags' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l insecure-registry -d 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l tls-verify -d 'Verify registries\' TLS certificates (--tls-verify=false accepts any, with a warning)' -r -f -a "true\t''
false\t''"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l ca-cert -d 'Trust this CA certificate (PEM) for registries, besides the system\'s (repeatable)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l creds -d 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l authfile -d 'Read registry credentials from this auth file (docker config.json or podman auth.json)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l cache-dir -d 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -l json -d 'Print a JSON document describing what was written'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand export" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l insecure-registry -d 'Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS (repeatable; localhost and 127.0.0.0/8 always may)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l tls-verify -d 'Verify registries\' TLS certificates (--tls-verify=false accepts any, with a warning)' -r -f -a "true\t''
false\t''"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l ca-cert -d 'Trust this CA certificate (PEM) for registries, besides the system\'s (repeatable)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l creds -d 'Registry credentials USER:PASS, or USER with the password in IMGBUILD_REGISTRY_PASSWORD' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l authfile -d 'Read registry credentials from this auth file (docker config.json or podman auth.json)' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l cache-dir -d 'Where pulled blobs and built layers (in layers/) are cached [default: $XDG_CACHE_HOME/imgbuild]' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -l json -d 'Print a JSON document of what was pushed instead of the digest'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand push" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand completions" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand completions" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand completions" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand completions" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand completions" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -s u -l username -d 'The user name (asked for on a terminal when not given)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -s p -l password -d 'The password or token; discouraged: it lands in the shell\'s history and the process list (use --password-stdin)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -l authfile -d 'Store them in this file (podman\'s auth.json format) instead of the docker config' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -l password-stdin -d 'Read the password or token from the first line of stdin'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand login" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand logout" -l authfile -d 'Remove them from this file (podman\'s auth.json format) instead of the docker config' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand logout" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand logout" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand logout" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand logout" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand logout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand logout" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -f -a "info" -d 'Show the layer cache\'s directory, entries, size and last use'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and not __fish_seen_subcommand_from info prune" -f -a "prune" -d 'Remove layers from the cache (always removes damaged or unreferenced files)'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -l cache-dir -d 'imgbuild\'s cache directory; the layer cache is its layers/ [default: $XDG_CACHE_HOME/imgbuild]' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -l json -d 'Print a JSON object instead of text'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from info" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -l max-size -d 'Remove least recently used layers until the cache holds at most SIZE (500M, 10GiB)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -l older-than -d 'Remove layers not used for this long (30m, 12h, 7d, 2w)' -r
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -l cache-dir -d 'imgbuild\'s cache directory; the layer cache is its layers/ [default: $XDG_CACHE_HOME/imgbuild]' -r -F
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -l color -d 'When to use colors on stderr' -r -f -a "auto\t'Color when stderr is a terminal and NO_COLOR is unset'
always\t'Always color'
never\t'Never color'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -l progress -d 'How to show progress on stderr' -r -f -a "auto\t'A progress bar when stderr is a terminal'
plain\t'One line per stage, for CI logs'
never\t'No progress output'"
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -l all -d 'Remove every cached layer'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -l json -d 'Print a JSON object instead of text'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Print nothing but errors and the result on stdout'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -s v -l verbose -d 'List ignored paths and why, and per-stage timings'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand cache; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "build" -d 'Build an image from a directory'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "inspect" -d 'Show what is inside an image on disk'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "export" -d 'Convert an image to another format, or flatten it into a root filesystem'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "push" -d 'Push an image on disk to registries, unchanged (same digests)'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "completions" -d 'Print a shell completion script'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "login" -d 'Store credentials for a registry (they are checked on first use, not now)'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "logout" -d 'Remove the stored credentials for a registry'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "cache" -d 'Show or prune the local layer cache'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and not __fish_seen_subcommand_from build inspect export push completions login logout cache help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "info" -d 'Show the layer cache\'s directory, entries, size and last use'
complete -c imgbuild -n "__fish_imgbuild_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "prune" -d 'Remove layers from the cache (always removes damaged or unreferenced files)'
