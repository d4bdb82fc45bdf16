<?php
// record.php records how a real Nextcloud's occ answers the talk:* calls
// nctalk makes, for the fake occ (../../fakeocc) to replay. See README.md
// in this folder and docs/occ.md ("Re-recording").
//
//   php record.php occ NEXTCLOUD_DIR 'OCC PREFIX' OUTDIR
//       The one command: on a FRESH, THROWAWAY Nextcloud with Talk enabled
//       (Talk's signaling, TURN and STUN settings never set: it refuses
//       otherwise), writes everything the fake replays into OUTDIR:
//         transcript.json  the call sequence, Talk's add rules case by case,
//                          --generate-secret samples, the read-only config
//                          and the Talk-disabled answer
//         formatter.json   list JSON through the Symfony Console shipped in
//                          NEXTCLOUD_DIR/3rdparty
//         parse_url.json   talk:stun:add's parse_url check, with this PHP
//         record.log       every occ call with its exit status, timed
//       OCC PREFIX runs that Nextcloud's occ, e.g.
//       'sudo -u www-data php /var/www/nextcloud/occ'. Run it as root (or as
//       the owner of NEXTCLOUD_DIR/config/config.php): for one call it makes
//       config.php read-only, and puts the mode back. Between cases it
//       deletes Talk's three settings with `occ config:app:delete`, and it
//       disables and re-enables the spreed app once (app:enable --force), so
//       the Nextcloud ends as fresh as it began.
//   php record.php talk SPREED_DIR SERVER_DIR NEXTCLOUD_3RDPARTY_DIR OUT.json
//       A cross-check where no Nextcloud runs: the same call sequence
//       through Symfony Console's Application with Talk's own command
//       classes (SPREED_DIR/lib/Command/{Signaling,Turn,Stun}/*.php) and
//       Nextcloud's OC\Core\Command\Base (SERVER_DIR/core/Command/Base.php)
//       on an in-memory app config. lib/base.php, the database, the other
//       apps' commands (so the unknown-command texts) are not played: the
//       result is marked derived and is not what the fake replays.
//
// Nothing of Nextcloud is copied here: the script only calls what it is
// pointed at.

const FORMAT = 'nctalk-occ-recording/2';

function usage(): never {
    fwrite(STDERR, "usage: php record.php occ NEXTCLOUD_DIR 'OCC PREFIX' OUTDIR\n" .
        "       php record.php talk SPREED_DIR SERVER_DIR NEXTCLOUD_3RDPARTY_DIR OUT.json\n");
    exit(2);
}

function writeJSON(string $file, array $doc): void {
    file_put_contents($file, json_encode($doc, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR) . "\n");
}

function now(): string {
    return gmdate('Y-m-d\TH:i:s\Z');
}

// autoloadThirdparty loads Symfony Console and what it needs from a
// nextcloud/3rdparty tree (a release's 3rdparty/ folder or a checkout of
// nextcloud/3rdparty at the release's tag).
function autoloadThirdparty(string $root): void {
    spl_autoload_register(function ($c) use ($root) {
        $map = ['Symfony\\Component\\Console\\' => 'symfony/console/', 'Symfony\\Component\\String\\' => 'symfony/string/',
            'Symfony\\Contracts\\Service\\' => 'symfony/service-contracts/',
            'Symfony\\Contracts\\EventDispatcher\\' => 'symfony/event-dispatcher-contracts/',
            'Stecman\\Component\\Symfony\\Console\\BashCompletion\\' => 'stecman/symfony-console-completion/src/',
            'Psr\\Container\\' => 'psr/container/src/'];
        foreach ($map as $p => $d) {
            if (str_starts_with($c, $p)) {
                $f = "$root/$d" . str_replace('\\', '/', substr($c, strlen($p))) . '.php';
                if (is_file($f)) {
                    require $f;
                }
            }
        }
    });
}

function symfonyConsoleVersion(string $thirdparty): string {
    $lock = json_decode((string)@file_get_contents("$thirdparty/composer.lock"), true);
    foreach ($lock['packages'] ?? [] as $p) {
        if ($p['name'] === 'symfony/console') {
            return $p['version'];
        }
    }
    fwrite(STDERR, "record.php: no symfony/console in $thirdparty/composer.lock\n");
    exit(1);
}

// Values a hand-edited Nextcloud may hold, with the characters Symfony's
// formatter treats specially.
function formatterCases(): array {
    return [
        ['servers' => [['server' => 'https://hpb.example.org/', 'verify' => true]], 'secret' => 'plain-secret'],
        ['servers' => [], 'secret' => 'a<b'],
        ['servers' => [], 'secret' => 'x\\<y'],
        ['servers' => [], 'secret' => 'x\\>y \\\\<z'],
        ['servers' => [], 'secret' => 'tag<info>in'],
        ['servers' => [], 'secret' => 'tag<fg=red>in'],
        ['servers' => [], 'secret' => 'tag<b>in</b>'],
        ['servers' => [], 'secret' => 'ends in \\'],
        [['schemes' => 'turn', 'server' => 'turn.example.org:3478', 'secret' => '<error>s', 'protocols' => 'udp,tcp']],
        ['stun.example.org:3478', 'é<"\'>'],
        [],
    ];
}

function formatterRows(string $thirdparty): array {
    $rows = [];
    foreach (formatterCases() as $v) {
        $stream = fopen('php://memory', 'w+');
        // occ's output is a pipe here: not decorated.
        $output = new Symfony\Component\Console\Output\StreamOutput($stream, Symfony\Component\Console\Output\StreamOutput::VERBOSITY_NORMAL, false);
        $output->writeln(json_encode($v));
        rewind($stream);
        $rows[] = ['json' => json_encode($v), 'stdout' => stream_get_contents($stream)];
    }
    return $rows;
}

// The entries talk:stun:add is recorded with: awkward spellings first, then
// every entry nctalk's tests hand the fake.
function stunCases(): array {
    return ['talk.example.com:3478', 'talk.example.com:03478', 'talk.example.com:080', '[2001:db8::1]:3478',
        '2001:db8::1:3478', '192.0.2.1:3478', 'Talk.Example.COM:3478', 'host:0', 'host:00000', 'host:65535',
        'host:65536', 'host:99999', 'host:123456', 'host', 'host:', ':3478', 'stun:host:3478', 'host:3478/',
        'host:3478/x', 'host:3478?x', 'host:3478#x', 'host: 3478', ' host:3478', 'host:3478 ', 'host:+3478',
        'host:34a', '//host:3478', 'udp://host:3478', 'stun://host:3478', 'user@host:3478', 'h_st:3478',
        '-h:1', 'host:3478:1', 'a.b-c.d:1', 'udp://host:12ab', 'udp://host:', 'udp://host:123456',
        "ho\tst:1", '0:1', 'udp://[2001:db8::1]:3478', 'udp://[::1]', 'udp://u:p@host:1', 'x:y@host:1',
        'udp://host:1/p?q#f', 'host:1#x', 'h%20st:1', 'host.:1', 'UDP://host:1', 'udp:/host:1', 'udp:host:1',
        // nctalk's tests
        'talk.example.com:0', 'talk.example.com', 'a.example:3478', 'a.example', 'a.example:1', 'a.example:2',
        'a.example:3', 'stun.other.org:3478', 'stun.nextcloud.com:443', 'turn.talk.example.com:3478'];
}

// The (schemes, server, protocols) talk:turn:add is recorded with, each
// with a valid secret.
function turnCases(): array {
    $cases = [];
    foreach (['turn', 'turns', 'turn,turns', 'turns,turn', 'stun', 'TURN', ''] as $schemes) {
        foreach (['udp', 'tcp', 'udp,tcp', 'tcp,udp', 'UDP', 'sctp', ''] as $protocols) {
            $cases[] = [$schemes, 'turn.example.org:3478', $protocols];
        }
    }
    foreach (['https://turn.example.org:3478', 'HTTP://turn.example.org:3478', 'Https://turn.example.org:3478',
        'https://http://turn.example.org:3478', 'http://https://turn.example.org:3478', 'turns://turn.example.org:3478',
        'turn.example.org', 'Turn.Example.ORG:3478', ' turn.example.org:3478', 'turn.example.org:3478 ',
        ' ', '', " \t\n", '[2001:db8::1]:3478', '192.0.2.1:3478'] as $server) {
        $cases[] = ['turn', $server, 'udp'];
    }
    // nctalk's tests
    foreach ([['turn', 'talk.example.com:3478', 'udp,tcp'], ['turns', 'talk.example.com:5349', 'tcp'],
        ['turns', 'turn.talk.example.com:443', 'tcp'], ['turn', 'HTTPS://talk.example.com:3478', 'udp,tcp'],
        ['turn', 'a.example:3478', 'udp,tcp'], ['turns', 'a.example:5349', 'tcp'], ['turn', 'b.example:3478', 'udp'],
        ['turn', 'turn.other.org:3478', 'udp'], ['turn', 'talk.example.com:3478', 'udp'], ['turns', 'talk.example.com:5349', 'udp'],
        // the transcript's adds
        ['turn', 'talk.example.com:3478', 'tcp'], ['turn', 'https://Talk.example.com:3478', 'udp'],
        ['turn,turns', 'talk.example.com:3478', 'tcp,udp'], ['stun', 'talk.example.com:3478', 'udp'],
        ['stun', 'b.example:3478', 'udp'], ['turns', 'a.example:5349', 'udp'], ['turn', 'a.example:3478', 'udp'],
        // the --generate-secret add
        ['turn', 'gen.example.org:3478', 'udp']] as $c) {
        $cases[] = $c;
    }
    return $cases;
}

// The call sequence, in order, from a fresh Talk: no signaling, TURN or
// STUN setting stored (every list prints []). The secrets hold characters
// Symfony's formatter and shells treat specially.
function transcriptSteps(): array {
    return [
        // every list of a fresh Talk, in each output format
        ['talk:signaling:list', '--output=json'],
        ['talk:turn:list', '--output=json'],
        ['talk:stun:list', '--output=json'],
        ['talk:signaling:list'],
        ['talk:turn:list'],
        ['talk:stun:list'],
        ['talk:signaling:list', '--output=json_pretty'],
        ['talk:turn:list', '--output=json_pretty'],
        ['talk:stun:list', '--output=json_pretty'],
        ['talk:stun:list', '--output', 'json'],
        ['talk:stun:list', '--output=plain'],
        // signaling
        ['talk:signaling:add', 'https://talk.example.com/standalone-signaling', 'sig<secret', '--verify'],
        ['talk:signaling:add', '--verify', '--', 'https://talk.example.com/standalone-signaling', '-dash-secret'],
        ['talk:signaling:list', '--output=json'],
        ['talk:signaling:list'],
        ['talk:signaling:list', '--output=json_pretty'],
        ['talk:signaling:delete', 'https://talk.example.com/standalone-signaling/'],
        ['talk:signaling:delete', 'https://talk.example.com/standalone-signaling'],
        ['talk:signaling:list', '--output=json'],
        ['talk:signaling:list'],
        ['talk:signaling:list', '--output=json_pretty'],
        ['talk:signaling:add', 'https://a.example/sig', 's1', '--verify'],
        ['talk:signaling:add', 'https://a.example/sig', 's2<info>x</info>'],
        ['talk:signaling:list', '--output=json'],
        ['talk:signaling:list'],
        ['talk:signaling:add', ' ', 's'],
        ['talk:signaling:add', 'https://a.example/sig', " \t"],
        ['talk:signaling:add', 'https://a.example/sig', '-x'],
        ['talk:signaling:add', 'https://a.example/sig', 's3', '--verify=yes'],
        ['talk:signaling:add', 'https://a.example/sig'],
        ['talk:signaling:delete', 'https://a.example/sig'],
        ['talk:signaling:delete', 'https://a.example/sig'],
        // TURN
        ['talk:turn:add', 'turn', 'talk.example.com:3478', 'udp,tcp', '--secret=turn\\<secret'],
        ['talk:turn:add', 'turns', 'talk.example.com:5349', 'tcp', '--secret=turn\\<secret'],
        ['talk:turn:add', 'turn', 'talk.example.com:3478', 'udp,tcp', '--secret=other'],
        ['talk:turn:add', 'turn', 'https://Talk.example.com:3478', 'udp', '--secret=s'],
        ['talk:turn:add', 'turn,turns', 'talk.example.com:3478', 'tcp,udp', '--secret=s'],
        ['talk:turn:add', 'stun', 'talk.example.com:3478', 'udp', '--secret=s'],
        ['talk:turn:add', 'turn', ' ', 'udp', '--secret=s'],
        ['talk:turn:add', 'turn', 'talk.example.com:3478', 'tcp'],
        ['talk:turn:add', 'turn', 'b.example:3478', 'udp', '--secret= '],
        ['talk:turn:add', 'turn', 'b.example:3478', 'udp', '--secret=x', '--generate-secret'],
        ['talk:turn:add', 'stun', 'b.example:3478', 'udp'],
        ['talk:turn:add', 'turns', 'a.example:5349', 'tcp', '--secret', 's2'],
        ['talk:turn:add', 'turns', 'a.example:5349', 'udp', '--secret'],
        ['talk:turn:add', 'turn', 'a.example:3478', 'udp', '--secret', '-s'],
        ['talk:turn:list', '--output=json'],
        ['talk:turn:list'],
        ['talk:turn:list', '--output=json_pretty'],
        ['talk:turn:delete', 'turn', 'Talk.example.com:3478', 'udp'],
        ['talk:turn:delete', 'turn', 'talk.example.com:9', 'udp'],
        ['talk:turn:delete', 'turn', 'talk.example.com:3478'],
        ['talk:turn:delete', 'turns', 'a.example:5349', 'tcp'],
        ['talk:turn:list', '--output=json'],
        // STUN
        ['talk:stun:add', 'talk.example.com:3478'],
        ['talk:stun:add', 'talk.example.com:03478'],
        ['talk:stun:add', '[2001:db8::1]:3478'],
        ['talk:stun:add', 'talk.example.com'],
        ['talk:stun:add', 'talk.example.com:0'],
        ['talk:stun:add', 'a.example:1'],
        ['talk:stun:list', '--output=json'],
        ['talk:stun:list'],
        ['talk:stun:list', '--output=json_pretty'],
        ['talk:stun:delete', 'stun.other.org:3478'],
        ['talk:stun:delete', 'talk.example.com:3478'],
        ['talk:stun:delete', 'talk.example.com:3478'],
        ['talk:stun:delete', 'a.example:1'],
        ['talk:stun:list', '--output=json'],
        ['talk:stun:list'],
        ['talk:stun:delete', 'stun.nextcloud.com:443'],
        ['talk:stun:list', '--output=json'],
        // Symfony's input errors
        ['talk:stun:add'],
        ['talk:stun:add', 'a:1', 'b:2'],
        ['talk:stun:list', '--output=json', '--bogus'],
        ['talk:stun:list', 'extra'],
        ['talk:turn:list', '-z'],
        ['talk:turn:delete', 'turn', 'a.example:3478', 'udp', 'extra'],
        // commands occ does not have
        ['talk:nope'],
        ['talk:stun:nope'],
        ['nope:stun:list'],
    ];
}

// ---------------------------------------------------------------- occ mode

/** Recorder runs occ through a prefix and logs every call. */
final class Recorder {
    /** @var resource */
    private $log;

    public function __construct(private string $prefix, string $logFile) {
        $this->log = fopen($logFile, 'w');
    }

    public function log(string $line): void {
        $line = now() . ' ' . $line . "\n";
        fwrite($this->log, $line);
        fwrite(STDERR, $line);
    }

    /** run calls occ with args and returns the call: args, stdout, stderr, exit. */
    public function run(array $args, string $why = ''): array {
        $cmd = $this->prefix . ' ' . implode(' ', array_map('escapeshellarg', $args));
        $start = microtime(true);
        $p = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        if ($p === false) {
            $this->fail("cannot run $cmd");
        }
        fclose($pipes[0]);
        $stdout = stream_get_contents($pipes[1]);
        $stderr = stream_get_contents($pipes[2]);
        $exit = proc_close($p);
        $this->log(sprintf('occ %s -> exit %d, %d+%d bytes, %.2f s%s', json_encode($args, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE),
            $exit, strlen($stdout), strlen($stderr), microtime(true) - $start, $why === '' ? '' : " ($why)"));
        return ['args' => $args, 'stdout' => $stdout, 'stderr' => $stderr, 'exit' => $exit];
    }

    /** must runs a helper call (not recorded as behaviour) that has to succeed. */
    public function must(array $args, string $why): array {
        $c = $this->run($args, $why);
        if ($c['exit'] !== 0) {
            $this->fail(sprintf("occ %s failed (exit %d): %s%s", implode(' ', $args), $c['exit'], $c['stdout'], $c['stderr']));
        }
        return $c;
    }

    /** listJSON runs a list command with --output=json and decodes it. */
    public function listJSON(string $what, string $why): array {
        $c = $this->must(["talk:$what:list", '--output=json'], $why);
        $v = json_decode($c['stdout'], true);
        if (!is_array($v)) {
            $this->fail("talk:$what:list --output=json printed no JSON list: " . $c['stdout']);
        }
        return [$c['stdout'], $v];
    }

    /** reset deletes Talk's signaling, TURN and STUN settings. */
    public function reset(string ...$keys): void {
        foreach ($keys ?: ['signaling_servers', 'turn_servers', 'stun_servers'] as $k) {
            $this->must(['config:app:delete', 'spreed', $k], 'reset');
        }
    }

    public function fail(string $why): never {
        $this->log("FAILED: $why");
        exit(1);
    }
}

function recordOcc(string $ncDir, string $prefix, string $outDir): void {
    $ncDir = rtrim($ncDir, '/');
    $configFile = "$ncDir/config/config.php";
    if (!is_file($configFile) || !is_dir("$ncDir/3rdparty")) {
        fwrite(STDERR, "record.php: $ncDir has no config/config.php or 3rdparty/: not a Nextcloud folder\n");
        exit(2);
    }
    if (!is_dir($outDir) && !mkdir($outDir, 0o755, true)) {
        fwrite(STDERR, "record.php: cannot create $outDir\n");
        exit(2);
    }
    $started = now();
    $r = new Recorder($prefix, "$outDir/record.log");
    $r->log('record.php ' . FORMAT . ": PHP " . PHP_VERSION . ", Nextcloud in $ncDir, occ prefix " . json_encode($prefix, JSON_UNESCAPED_SLASHES));

    // Which Nextcloud and Talk this is.
    $status = json_decode($r->must(['status', '--output=json'], 'identify')['stdout'], true);
    $apps = json_decode($r->must(['app:list', '--output=json'], 'identify')['stdout'], true);
    $nextcloud = $status['versionstring'] ?? '';
    $talk = $apps['enabled']['spreed'] ?? '';
    if ($nextcloud === '' || $talk === '') {
        $r->fail('occ status or app:list names no Nextcloud release or no enabled spreed (Talk) app');
    }
    $symfony = symfonyConsoleVersion("$ncDir/3rdparty");
    $r->log("Nextcloud $nextcloud, Talk $talk, symfony/console $symfony");

    // Fresh: nothing of Talk's three settings stored.
    foreach (['signaling', 'turn', 'stun'] as $what) {
        [$raw] = $r->listJSON($what, 'fresh?');
        if ($raw !== "[]\n") {
            $r->fail("talk:$what:list prints $raw: this Talk is not fresh; record on a throwaway Nextcloud whose Talk was never configured");
        }
    }

    $calls = [];
    foreach (transcriptSteps() as $args) {
        $calls[] = $r->run($args);
    }

    // --generate-secret: what is stored, five times.
    $r->reset();
    $generated = ['add' => null, 'secrets' => []];
    for ($i = 0; $i < 5; $i++) {
        $add = $r->run(['talk:turn:add', 'turn', 'gen.example.org:3478', 'udp', '--generate-secret']);
        $generated['add'] ??= $add;
        [, $list] = $r->listJSON('turn', 'generated secret');
        if ($add['exit'] !== 0 || count($list) !== 1) {
            $r->fail('talk:turn:add --generate-secret did not store one entry');
        }
        $generated['secrets'][] = $list[0]['secret'];
        $r->reset('turn_servers');
    }

    // Talk's add rules, each case on a fresh setting; "--" so that an
    // entry starting with "-" reaches Talk as the argument.
    $stun = [];
    foreach (stunCases() as $entry) {
        $add = $r->run(['talk:stun:add', '--', $entry]);
        [$raw, $list] = $r->listJSON('stun', 'stored');
        $stun[] = ['entry' => $entry, 'stdout' => $add['stdout'], 'stderr' => $add['stderr'], 'exit' => $add['exit'],
            'list' => $raw, 'stored' => count($list) === 1 ? $list[0] : null];
        $r->reset('stun_servers');
    }
    $turn = [];
    foreach (turnCases() as [$schemes, $server, $protocols]) {
        $add = $r->run(['talk:turn:add', '--secret=case-secret', '--', $schemes, $server, $protocols]);
        [$raw, $list] = $r->listJSON('turn', 'stored');
        $turn[] = ['schemes' => $schemes, 'server' => $server, 'protocols' => $protocols,
            'stdout' => $add['stdout'], 'stderr' => $add['stderr'], 'exit' => $add['exit'],
            'list' => $raw, 'stored' => count($list) === 1 ? $list[0]['server'] : null];
        $r->reset('turn_servers');
    }

    // Talk not enabled: its commands are unknown.
    $r->must(['app:disable', 'spreed'], 'Talk disabled');
    $talkDisabled = $r->run(['talk:signaling:list', '--output=json']);
    $r->must(['app:enable', '--force', 'spreed'], 'Talk enabled again');

    // config.php read-only (and config_is_read_only unset).
    $mode = fileperms($configFile) & 0o777;
    register_shutdown_function(fn () => @chmod($configFile, $mode));
    if (!chmod($configFile, $mode & ~0o222)) {
        $r->fail("cannot chmod $configFile: run as root or as its owner");
    }
    clearstatcache();
    $r->log(sprintf('chmod %o %s', $mode & ~0o222, $configFile));
    $readOnly = $r->run(['talk:stun:list', '--output=json']);
    chmod($configFile, $mode);
    $r->log(sprintf('chmod %o %s', $mode, $configFile));
    $r->reset();

    $recorded = ['format' => FORMAT, 'at' => $started, 'finished' => now(), 'php' => PHP_VERSION,
        'nextcloud' => $nextcloud, 'talk' => $talk, 'symfony/console' => $symfony, 'occ' => $prefix];
    writeJSON("$outDir/transcript.json", [
        'what' => "talk:* calls against a real Nextcloud $nextcloud with Talk $talk (record.php occ)",
        'derived' => false,
        'recorded' => $recorded,
        'calls' => $calls,
        'generatedSecret' => $generated,
        'stunAdd' => $stun,
        'turnAdd' => $turn,
        'talkDisabled' => $talkDisabled,
        'configReadOnly' => $readOnly,
    ]);

    autoloadThirdparty("$ncDir/3rdparty");
    writeJSON("$outDir/formatter.json", [
        'what' => 'Base::writeArrayInOutputFormat --output=json through Symfony Console',
        'derived' => false,
        'recorded' => ['format' => FORMAT, 'at' => now(), 'php' => PHP_VERSION, 'symfony/console' => $symfony],
        'rows' => formatterRows("$ncDir/3rdparty"),
    ]);

    $rows = [];
    foreach (stunCases() as $s) {
        $host = parse_url($s, PHP_URL_HOST);
        $port = parse_url($s, PHP_URL_PORT);
        // lib/Command/Stun/Add.php: empty($host) || empty($port) refuses,
        // otherwise "$host:$port" is stored.
        $rows[] = ['entry' => $s, 'host' => $host, 'port' => $port,
            'stored' => (empty($host) || empty($port)) ? null : "$host:$port"];
    }
    writeJSON("$outDir/parse_url.json", [
        'what' => 'talk:stun:add check: parse_url(entry, PHP_URL_HOST/PORT)',
        'derived' => false,
        'recorded' => ['format' => FORMAT, 'at' => now(), 'php' => PHP_VERSION],
        'rows' => $rows,
    ]);
    $r->log(sprintf('done: %d calls, %d STUN cases, %d TURN cases, %d generated secrets; wrote %s/{transcript,formatter,parse_url}.json',
        count($calls), count($stun), count($turn), count($generated['secrets']), $outDir));
}

// ---------------------------------------------------------------- talk mode

function recordTalk(string $spreed, string $server, string $root, string $file): void {
    autoloadThirdparty(rtrim($root, '/'));
    // Stand-ins for what the commands take from Nextcloud: the app config
    // (IConfig), a random source (ISecureRandom, Talk 23's Turn\Add) and
    // the documentation URL Base::configure asks for.
    eval('namespace OCP { interface IConfig { public function getAppValue($app, $key, $default = ""); public function setAppValue($app, $key, $value); }
        class Defaults { public function getDocBaseUrl(): string { return "https://docs.nextcloud.com"; } }
        class Server { public static function get(string $c) { return new $c(); } } }
        namespace OCP\Security { interface ISecureRandom { public function generate(int $length, string $characters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"): string; } }');
    $store = new class implements OCP\IConfig {
        public array $values = [];
        public function getAppValue($app, $key, $default = '') { return $this->values[$key] ?? $default; }
        public function setAppValue($app, $key, $value) { $this->values[$key] = (string)$value; }
    };
    $random = new class implements OCP\Security\ISecureRandom {
        public function generate(int $length, string $characters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'): string {
            $s = '';
            for ($i = 0; $i < $length; $i++) {
                $s .= $characters[random_int(0, strlen($characters) - 1)];
            }
            return $s;
        }
    };
    require rtrim($server, '/') . '/core/Command/Base.php';
    $commands = [];
    foreach (['Signaling', 'Turn', 'Stun'] as $group) {
        foreach (['Add', 'Delete', 'ListCommand'] as $name) {
            require rtrim($spreed, '/') . "/lib/Command/$group/$name.php";
            $class = "OCA\\Talk\\Command\\$group\\$name";
            // Hand each constructor what its parameter's type asks for.
            $args = [];
            foreach ((new ReflectionClass($class))->getConstructor()->getParameters() as $p) {
                $type = (string)$p->getType();
                $args[] = match ($type) {
                    'OCP\IConfig' => $store,
                    'OCP\Security\ISecureRandom' => $random,
                    default => throw new RuntimeException("record.php talk: $class wants a $type, which has no stand-in here"),
                };
            }
            $commands[] = new $class(...$args);
        }
    }
    $calls = [];
    foreach (transcriptSteps() as $args) {
        $app = new Symfony\Component\Console\Application('Nextcloud');
        $app->setAutoExit(false);
        foreach ($commands as $c) {
            $app->add($c);
        }
        $out = fopen('php://memory', 'w+');
        $err = fopen('php://memory', 'w+');
        $output = new class($out, $err) extends Symfony\Component\Console\Output\StreamOutput implements Symfony\Component\Console\Output\ConsoleOutputInterface {
            private Symfony\Component\Console\Output\OutputInterface $error;
            public function __construct($out, $err) {
                parent::__construct($out, self::VERBOSITY_NORMAL, false);
                $this->error = new Symfony\Component\Console\Output\StreamOutput($err, self::VERBOSITY_NORMAL, false);
            }
            public function getErrorOutput(): Symfony\Component\Console\Output\OutputInterface { return $this->error; }
            public function setErrorOutput(Symfony\Component\Console\Output\OutputInterface $error): void { $this->error = $error; }
            public function section(): Symfony\Component\Console\Output\ConsoleSectionOutput { throw new LogicException('no sections'); }
        };
        $exit = $app->run(new Symfony\Component\Console\Input\ArgvInput(array_merge(['occ'], $args)), $output);
        rewind($out);
        rewind($err);
        $calls[] = ['args' => $args, 'stdout' => stream_get_contents($out), 'stderr' => stream_get_contents($err), 'exit' => $exit];
    }
    writeJSON($file, ['what' => 'talk:* calls through Talk\'s command classes on an in-memory app config (record.php talk)',
        'derived' => true, 'recorded' => ['format' => FORMAT, 'at' => now(), 'php' => PHP_VERSION], 'calls' => $calls]);
}

$mode = $argv[1] ?? '';
match (true) {
    $mode === 'occ' && $argc === 5 => recordOcc($argv[2], $argv[3], $argv[4]),
    $mode === 'talk' && $argc === 6 => recordTalk($argv[2], $argv[3], $argv[4], $argv[5]),
    default => usage(),
};
