# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_bbp_maint_global_optspecs
    string join \n config= format= json q/quiet v/verbose color= timeout= prom-textfile= wait ping-url= h/help V/version
end

function __fish_bbp_maint_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_bbp_maint_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_bbp_maint_using_subcommand
    set -l cmd (__fish_bbp_maint_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "health" -d 'Check the database, Redis, the API, storage and external services, in parallel'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "disk" -d 'Space and inodes per filesystem, days until full; the largest directories; clean stale files'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "logs" -d 'Count rule matches in log files (errors, failed logins), in a time window'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "backup" -d 'Verify backups: checksum, structure, a restore into a scratch database, integrity'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "dr-test" -d 'The disaster-recovery drill: restore, compare with live, measure RTO and RPO, clean up'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "run" -d 'Run a schedule\'s tasks (automated-maintenance.sh): a maintenance log, alerts, one exit code'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "alert" -d 'Send a test notice through each configured alert route (webhook, command, ping URL)'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "window" -d 'Say whether now is inside a maintenance window (exit 0) or not (exit 1), and when the next starts'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "db" -d 'Database maintenance report: statistics, sizes, bloat, indexes, slow queries, vacuum, wraparound'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "vacuum" -d 'VACUUM (ANALYZE) the tables that need it; REINDEX bloated indexes; measured before and after'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "deps" -d 'Audit lockfiles against OSV advisories; refresh the offline advisory database'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "perf" -d 'The weekly performance review: access-log latency and errors, Redis, PostgreSQL, the host, week over week'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "capacity" -d 'The monthly capacity review: growth and days to capacity of mounts, the database, connections, Redis'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "incident" -d 'The guide\'s emergency procedures: a diagnostics bundle, a write freeze; each with a timeline'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "recover" -d 'Recover one table\'s lost rows from the newest good backup: restore it aside, compare by primary key, copy back with --apply'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "config" -d 'Validate a configuration file or print the effective configuration'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "generate" -d 'Write shell completions or man pages (for packagers)'
complete -c bbp-maint -n "__fish_bbp_maint_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l check -d 'Run only these checks (database, redis, api, storage, external)' -r -f -a "database\t''
redis\t''
api\t''
storage\t''
external\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand health" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l top -d 'Instead of the filesystems, list the N largest directories under PATH (as du -x counts them)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l cross-filesystems -d 'With --top, also count directories on other filesystems'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -a "clean" -d 'Remove stale temporary files by the [[clean.rule]] list (default: /tmp/bailbondpro_* older than 1 day)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and not __fish_seen_subcommand_from clean help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l dry-run -d 'List what would be removed; remove nothing'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from clean" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from help" -f -a "clean" -d 'Remove stale temporary files by the [[clean.rule]] list (default: /tmp/bailbondpro_* older than 1 day)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand disk; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l pattern -d 'Add an ad-hoc rule (a regex); may be repeated' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l tail -d 'How many last matching lines to show per rule [default: 20]' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l since -d 'Only lines from this time on: a duration back from now (24h, 30m) or a time (2026-11-26T00:00)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l include-rotated -d 'Also read rotated files beside each one (app.log.1, app.log.2.gz, …), oldest first'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand logs" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -f -a "verify" -d 'Prove that a backup restores: exists, fresh, size, SHA-256, structure, restore, integrity'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and not __fish_seen_subcommand_from verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l all -d 'Verify every backup in the directory, not only the newest'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l no-restore -d 'Skip the restore and the checks of the restored copy'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l amcheck -d 'Also run pg_amcheck --heapallindexed on the restored copy (it checks PostgreSQL\'s fresh index build, not the backup; db check --amcheck checks the live database)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l no-amcheck -d 'Accepted for existing crontabs: pg_amcheck of the restored copy is off unless --amcheck'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l write-checksum -d 'Record the SHA-256 in <file>.sha256 when none is on record'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l drop-stale -d 'Drop scratch databases left by killed runs, older than backup.stale_scratch_age'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Prove that a backup restores: exists, fresh, size, SHA-256, structure, restore, integrity'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l backup -d 'The backup to restore [default: the newest in backup.dir]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l report-dir -d 'Keep dated JSON and text reports of the drill here [default: dr.report_dir]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l fresh -d 'Dump the live database now (pg_dump -Fc) and restore that; the dump counts towards the RTO'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand dr-test" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l alert-webhook -d 'On a result that is not OK, POST a JSON message (Slack-compatible `text`, plus the report) here' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l alert-command -d 'On a result that is not OK, run this shell command with the summary on stdin ($1 subject, $2 summary)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l fail-fast -d 'Stop at the first task that fails; the rest are reported as not run'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l continue -d 'Run every task whatever the others do (the default; overrides run.fail_fast)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l first-sunday -d 'Do nothing (exit 0) unless today is the first Sunday of the month, for cron and Kubernetes'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l ignore-window -d 'Run heavy tasks (restores, drills) even outside the configured maintenance windows'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -f -a "test" -d 'Send one test notice through each configured route and report which were delivered'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and not __fish_seen_subcommand_from test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l alert-webhook -d 'Test this webhook instead of run.alert_webhook' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l alert-command -d 'Test this shell command instead of run.alert_command ($1 subject, $2 text, the text on stdin)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send one test notice through each configured route and report which were delivered'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand alert; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -f -a "notify" -d 'Send the notice of each window starting within the lead time to the [[notify]] routes of its impact, once'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and not __fish_seen_subcommand_from notify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l ahead -d 'Notify the windows that start within this time from now (at most 31d)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from notify" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from help" -f -a "notify" -d 'Send the notice of each window starting within the lead time to the [[notify]] routes of its impact, once'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand window; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -f -a "analyze" -d 'ANALYZE, then report sizes, bloat, unused and missing indexes, slow queries, dead tuples, staleness, wraparound, cache and sessions'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -f -a "check" -d 'The daily outage risks in one read-only pass: archiving, slots, replication, xmin horizon, invalid indexes, sequences, checksums, temp files, server'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -f -a "archive" -d 'Move old rows to a verified compressed file, then delete them in batches; restore one back'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and not __fish_seen_subcommand_from analyze check archive help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l table -d 'Only this table (table or schema.table); may be repeated [default: db.analyze_tables, else all]' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l no-analyze -d 'Only read: do not run ANALYZE first'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l exact -d 'Measure bloat with pgstattuple/pgstatindex and sizes from the files (reads every relation) instead of estimating them'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from analyze" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l amcheck -d 'Also run pg_amcheck (heap and btree indexes) on the live database; needs the amcheck extension installed'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l deep -d 'pg_amcheck --heapallindexed (implies --amcheck); inside a maintenance window unless --force'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l force -d 'Run --deep outside the configured maintenance windows'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l table -d 'Only this table\'s rule, or a table without one (then --column, --older-than and --to are needed)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l column -d 'The timestamp column rows are judged old by [default: the rule\'s]' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l older-than -d 'Archive rows older than this (e.g. 365d) [default: the rule\'s retention]' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l to -d 'The archive directory [default: the rule\'s destination]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l dry-run -d 'Count the rows that would go, and their bytes; write and delete nothing'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -f -a "restore" -d 'Load an archive back, into its table or a side table, after checking its checksum'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from archive" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "analyze" -d 'ANALYZE, then report sizes, bloat, unused and missing indexes, slow queries, dead tuples, staleness, wraparound, cache and sessions'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "check" -d 'The daily outage risks in one read-only pass: archiving, slots, replication, xmin horizon, invalid indexes, sequences, checksums, temp files, server'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "archive" -d 'Move old rows to a verified compressed file, then delete them in batches; restore one back'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l table -d 'Only this table (table or schema.table); may be repeated' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l all -d 'Every table, not only those that need it (dead tuples or staleness)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l reindex -d 'Also REINDEX INDEX CONCURRENTLY the indexes whose estimated bloat crosses db.bloat_warn_pct'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l full -d 'VACUUM FULL (rewrites each table under an exclusive lock; inside a maintenance window unless --force)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l reindex-database -d 'REINDEX DATABASE after vacuuming (inside a maintenance window unless --force)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l force -d 'Run --full or --reindex-database outside the configured maintenance windows'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l dry-run -d 'Print the plan and change nothing'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand vacuum" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -f -a "audit" -d 'Lockfiles (npm, yarn, pnpm, Cargo) against OSV advisories, by severity (also --format sarif)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -f -a "update-db" -d 'Download each ecosystem\'s OSV export, verify it, and swap it in atomically'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -f -a "outdated" -d 'Current, wanted and latest version of each dependency; yanked, deprecated, security updates'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and not __fish_seen_subcommand_from audit update-db outdated help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l lockfile -d 'Audit this lockfile (package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, Cargo.lock; another name is read by its content, or as TYPE npm, yarn, pnpm or cargo); may be repeated' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l db -d 'Offline advisories: a directory of OSV records or all.zip exports [default: deps.db]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l fail-on -d 'Findings at or above this severity are CRITICAL (exit 2), below it WARNING (exit 1) [default: deps.fail_on, high]' -r -f -a "critical\t''
high\t''
medium\t''
low\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l online -d 'Ask the OSV API (deps.osv_url) instead of the offline database'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l production -d 'Leave out dev-only packages'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from audit" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l db -d 'The database directory [default: deps.db]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from update-db" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l fail-on -d 'Security updates at or above this severity are CRITICAL (exit 2), below it WARNING [default: deps.fail_on, high]' -r -f -a "critical\t''
high\t''
medium\t''
low\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l fail-on-outdated -d 'Packages this far behind the latest, or further, are CRITICAL; otherwise being behind is OK' -r -f -a "patch\t''
minor\t''
major\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l all -d 'Transitive dependencies too, not only the direct ones'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l offline -d 'Ask no registry: use the cached answers alone, whatever their age'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l production -d 'Leave out dev-only packages'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from outdated" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from help" -f -a "audit" -d 'Lockfiles (npm, yarn, pnpm, Cargo) against OSV advisories, by severity (also --format sarif)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from help" -f -a "update-db" -d 'Download each ecosystem\'s OSV export, verify it, and swap it in atomically'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from help" -f -a "outdated" -d 'Current, wanted and latest version of each dependency; yanked, deprecated, security updates'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand deps; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l since -d 'The access logs\' window: a duration back from now (7d, 24h) or a time (2026-11-23T00:00)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand perf" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand capacity" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -f -a "snapshot" -d 'A read-only diagnostics bundle in under 2 s: health, sessions and the blocking tree, locks, Redis, host, logs'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -f -a "freeze-writes" -d 'Stop all writes: ALTER DATABASE … SET default_transaction_read_only = on, recorded (who, when, why)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -f -a "thaw" -d 'Lift the write freeze that bbp-maint recorded'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -f -a "status" -d 'Whether a write freeze is in force, since when, by whom and why'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and not __fish_seen_subcommand_from snapshot freeze-writes thaw status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l out -d 'Where the bundle goes [default: <disk.state_dir>/snapshots]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l severity -d 'The incident\'s severity, for the [[notify]] routes (not sent with --dry-run)' -r -f -a "critical\t''
high\t''
medium\t''
low\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l impact -d 'Its impact on the users, for the routes that take impacts (e.g. all users: high)' -r -f -a "none\t''
low\t''
medium\t''
high\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l services -d 'The affected services, named in the notice' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l raw-queries -d 'Keep the literals in query text (they may hold personal data); masked with ? by default'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from snapshot" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l reason -d 'Why (kept in the record, the maintenance log, `status` and `health`)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l severity -d 'The incident\'s severity, for the [[notify]] routes (not sent with --dry-run)' -r -f -a "critical\t''
high\t''
medium\t''
low\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l impact -d 'Its impact on the users, for the routes that take impacts (e.g. all users: high)' -r -f -a "none\t''
low\t''
medium\t''
high\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l services -d 'The affected services, named in the notice' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l terminate-writers -d 'Also end the sessions that hold a write transaction, and name them'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l dry-run -d 'Show what would be done; change nothing'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from freeze-writes" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l severity -d 'The incident\'s severity, for the [[notify]] routes (not sent with --dry-run)' -r -f -a "critical\t''
high\t''
medium\t''
low\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l impact -d 'Its impact on the users, for the routes that take impacts (e.g. all users: high)' -r -f -a "none\t''
low\t''
medium\t''
high\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l services -d 'The affected services, named in the notice' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l dry-run -d 'Show what would be done; change nothing'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from thaw" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from help" -f -a "snapshot" -d 'A read-only diagnostics bundle in under 2 s: health, sessions and the blocking tree, locks, Redis, host, logs'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from help" -f -a "freeze-writes" -d 'Stop all writes: ALTER DATABASE … SET default_transaction_read_only = on, recorded (who, when, why)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from help" -f -a "thaw" -d 'Lift the write freeze that bbp-maint recorded'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from help" -f -a "status" -d 'Whether a write freeze is in force, since when, by whom and why'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand incident; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l table -d 'The table whose rows were lost: table or schema.table' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l backup -d 'The backup to recover from [default: the newest in backup.dir that passes backup verify\'s checks]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l where -d 'Compare only the rows for which this SQL condition holds (e.g. "paid_at >= \'2026-11-01\'")' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l into -d 'The recovery database: reused if an earlier run made it, else created under this name' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l severity -d 'The incident\'s severity, for the [[notify]] routes (not sent with --dry-run)' -r -f -a "critical\t''
high\t''
medium\t''
low\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l impact -d 'Its impact on the users, for the routes that take impacts (e.g. all users: high)' -r -f -a "none\t''
low\t''
medium\t''
high\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l services -d 'The affected services, named in the notice' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l apply -d 'Copy the missing rows back into live (one transaction, never overwriting a row)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l drop -d 'Drop the recovery databases (or the one --into names); nothing else'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l raw -d 'Show the rows\' values in the sample and the SQL; masked with ? by default'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand recover" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "check" -d 'Validate a configuration file; names the key and the problem (exit 78)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "show" -d 'Print the effective configuration (defaults < file < environment < flags), secrets masked'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate a configuration file; names the key and the problem (exit 78)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the effective configuration (defaults < file < environment < flags), secrets masked'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "completions" -d 'Print the completion script for SHELL on stdout'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "man" -d 'Write man pages (bbp-maint.1 and one per subcommand) into DIR'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from completions" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l out-dir -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l config -d 'Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l format -d 'Output format' -r -f -a "human\t''
json\t''
nagios\t''
sarif\t'SARIF 2.1.0, for `deps audit` only'"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l color -d 'Colour in human output (never with NO_COLOR set)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l timeout -d 'Replace every network and statement timeout of the run (e.g. 3s, 500ms)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l prom-textfile -d 'Also write the metrics for node_exporter\'s textfile collector, atomically' -r -F
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l ping-url -d 'Ping URL/start before the job and URL/<exit code> after it, with the output\'s tail (healthchecks.io)' -r
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l json -d 'Same as --format json'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -s q -l quiet -d 'Print nothing when everything is OK'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -s v -l verbose -d 'Say more: metrics in the table, which settings were used'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -l wait -d 'Wait for the job\'s lock instead of exiting 75 when another run holds it'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from man" -s V -l version -d 'Print version'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "completions" -d 'Print the completion script for SHELL on stdout'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "man" -d 'Write man pages (bbp-maint.1 and one per subcommand) into DIR'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "health" -d 'Check the database, Redis, the API, storage and external services, in parallel'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "disk" -d 'Space and inodes per filesystem, days until full; the largest directories; clean stale files'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "logs" -d 'Count rule matches in log files (errors, failed logins), in a time window'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "backup" -d 'Verify backups: checksum, structure, a restore into a scratch database, integrity'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "dr-test" -d 'The disaster-recovery drill: restore, compare with live, measure RTO and RPO, clean up'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "run" -d 'Run a schedule\'s tasks (automated-maintenance.sh): a maintenance log, alerts, one exit code'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "alert" -d 'Send a test notice through each configured alert route (webhook, command, ping URL)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "window" -d 'Say whether now is inside a maintenance window (exit 0) or not (exit 1), and when the next starts'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "db" -d 'Database maintenance report: statistics, sizes, bloat, indexes, slow queries, vacuum, wraparound'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "vacuum" -d 'VACUUM (ANALYZE) the tables that need it; REINDEX bloated indexes; measured before and after'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "deps" -d 'Audit lockfiles against OSV advisories; refresh the offline advisory database'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "perf" -d 'The weekly performance review: access-log latency and errors, Redis, PostgreSQL, the host, week over week'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "capacity" -d 'The monthly capacity review: growth and days to capacity of mounts, the database, connections, Redis'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "incident" -d 'The guide\'s emergency procedures: a diagnostics bundle, a write freeze; each with a timeline'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "recover" -d 'Recover one table\'s lost rows from the newest good backup: restore it aside, compare by primary key, copy back with --apply'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "config" -d 'Validate a configuration file or print the effective configuration'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "generate" -d 'Write shell completions or man pages (for packagers)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and not __fish_seen_subcommand_from health disk logs backup dr-test run alert window db vacuum deps perf capacity incident recover config generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from disk" -f -a "clean" -d 'Remove stale temporary files by the [[clean.rule]] list (default: /tmp/bailbondpro_* older than 1 day)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "verify" -d 'Prove that a backup restores: exists, fresh, size, SHA-256, structure, restore, integrity'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from alert" -f -a "test" -d 'Send one test notice through each configured route and report which were delivered'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from window" -f -a "notify" -d 'Send the notice of each window starting within the lead time to the [[notify]] routes of its impact, once'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "analyze" -d 'ANALYZE, then report sizes, bloat, unused and missing indexes, slow queries, dead tuples, staleness, wraparound, cache and sessions'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "check" -d 'The daily outage risks in one read-only pass: archiving, slots, replication, xmin horizon, invalid indexes, sequences, checksums, temp files, server'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "archive" -d 'Move old rows to a verified compressed file, then delete them in batches; restore one back'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from deps" -f -a "audit" -d 'Lockfiles (npm, yarn, pnpm, Cargo) against OSV advisories, by severity (also --format sarif)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from deps" -f -a "update-db" -d 'Download each ecosystem\'s OSV export, verify it, and swap it in atomically'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from deps" -f -a "outdated" -d 'Current, wanted and latest version of each dependency; yanked, deprecated, security updates'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from incident" -f -a "snapshot" -d 'A read-only diagnostics bundle in under 2 s: health, sessions and the blocking tree, locks, Redis, host, logs'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from incident" -f -a "freeze-writes" -d 'Stop all writes: ALTER DATABASE … SET default_transaction_read_only = on, recorded (who, when, why)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from incident" -f -a "thaw" -d 'Lift the write freeze that bbp-maint recorded'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from incident" -f -a "status" -d 'Whether a write freeze is in force, since when, by whom and why'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate a configuration file; names the key and the problem (exit 78)'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the effective configuration (defaults < file < environment < flags), secrets masked'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "completions" -d 'Print the completion script for SHELL on stdout'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "man" -d 'Write man pages (bbp-maint.1 and one per subcommand) into DIR'
complete -c bbp-maint -n "__fish_bbp_maint_using_subcommand run; and not __fish_seen_subcommand_from daily weekly monthly quarterly" -f -a "daily
weekly
monthly
quarterly"
