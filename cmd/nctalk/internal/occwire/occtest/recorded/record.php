<?php
// Re-records the occ transcripts in ../<version>/ (see ../README.md).
//
//   php record.php occ '<occ prefix>' OUT.json
//       Runs every talk:* call nctalk makes (and the refusals it must
//       predict) against a FRESH, THROWAWAY Nextcloud with Talk enabled
//       (never configured: the lists start empty), e.g.
//       'sudo -u www-data php /var/www/nextcloud/occ'. Then make
//       config/config.php read-only (chmod a-w) and run
//       talk:stun:list --output=json once more by hand for exit0-config.
//   php record.php formatter NEXTCLOUD_3RDPARTY_DIR OUT.json
//       Writes list results through Symfony Console's StreamOutput the way
//       Nextcloud's OC\Core\Command\Base::writeArrayInOutputFormat does
//       ($output->writeln(json_encode($items))), using the Symfony of that
//       Nextcloud release (a checkout of nextcloud/3rdparty at its tag).
//   php record.php talk SPREED_DIR SERVER_DIR NEXTCLOUD_3RDPARTY_DIR OUT.json
//       Where no Nextcloud can run: the same calls as `occ`, through
//       Symfony Console's Application, running Talk's own command classes
//       (SPREED_DIR/lib/Command/{Signaling,Turn,Stun}/*.php) and
//       Nextcloud's OC\Core\Command\Base (SERVER_DIR/core/Command/Base.php)
//       on an in-memory app config; lib/base.php's checks, the database and
//       the app config's types are not played. The result is marked
//       derived.
//   php record.php parse_url OUT.json
//       Talk's talk:stun:add check (parse_url host and port, both
//       non-empty) on a table of entries, with this PHP.
//
// Nothing of Nextcloud is copied here: the script only calls what it is
// pointed at.

function out(string $file, array $doc): void {
    $doc['recorded'] = ['php' => PHP_VERSION, 'at' => gmdate('Y-m-d\TH:i:s\Z')] + ($doc['recorded'] ?? []);
    file_put_contents($file, json_encode($doc, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n");
}

// Values a hand-edited Nextcloud may hold, with the characters Symfony's
// formatter treats specially.
// autoloadThirdparty loads Symfony Console and what it needs from a
// nextcloud/3rdparty checkout.
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

function stunCases(): array {
    return ['talk.example.com:3478', 'talk.example.com:03478', 'talk.example.com:080', '[2001:db8::1]:3478',
        '2001:db8::1:3478', '192.0.2.1:3478', 'Talk.Example.COM:3478', 'host:0', 'host:00000', 'host:65535',
        'host:65536', 'host:99999', 'host:123456', 'host', 'host:', ':3478', 'stun:host:3478', 'host:3478/',
        'host:3478/x', 'host:3478?x', 'host:3478#x', 'host: 3478', ' host:3478', 'host:3478 ', 'host:+3478',
        'host:34a', '//host:3478', 'udp://host:3478', 'stun://host:3478', 'user@host:3478', 'h_st:3478',
        '-h:1', 'host:3478:1', 'a.b-c.d:1', 'udp://host:12ab', 'udp://host:', 'udp://host:123456',
        "ho\tst:1", '0:1', 'udp://[2001:db8::1]:3478', 'udp://[::1]', 'udp://u:p@host:1', 'x:y@host:1',
        'udp://host:1/p?q#f', 'host:1#x', 'h%20st:1', 'host.:1', 'UDP://host:1', 'udp:/host:1', 'udp:host:1'];
}

function turnCases(): array {
    return ['turn.example.org:3478', 'https://turn.example.org:3478', 'HTTP://turn.example.org:3478', ' ', ''];
}

$mode = $argv[1] ?? '';
if ($mode === 'parse_url') {
    $rows = [];
    foreach (stunCases() as $s) {
        $host = parse_url($s, PHP_URL_HOST);
        $port = parse_url($s, PHP_URL_PORT);
        // lib/Command/Stun/Add.php: empty($host) || empty($port) refuses,
        // otherwise "$host:$port" is stored.
        $rows[] = ['entry' => $s, 'host' => $host, 'port' => $port,
            'stored' => (empty($host) || empty($port)) ? null : "$host:$port"];
    }
    out($argv[2], ['what' => 'talk:stun:add check: parse_url(entry, PHP_URL_HOST/PORT)', 'rows' => $rows]);
    exit(0);
}

if ($mode === 'formatter') {
    $root = rtrim($argv[2], '/');
    autoloadThirdparty($root);
    $lock = json_decode(file_get_contents("$root/composer.lock"), true);
    $version = '';
    foreach ($lock['packages'] as $p) {
        if ($p['name'] === 'symfony/console') {
            $version = $p['version'];
        }
    }
    $rows = [];
    foreach (formatterCases() as $v) {
        $stream = fopen('php://memory', 'w+');
        // occ's output is a pipe here: not decorated.
        $output = new Symfony\Component\Console\Output\StreamOutput($stream, Symfony\Component\Console\Output\StreamOutput::VERBOSITY_NORMAL, false);
        $output->writeln(json_encode($v));
        rewind($stream);
        $rows[] = ['json' => json_encode($v), 'stdout' => stream_get_contents($stream)];
    }
    out($argv[3], ['what' => 'Base::writeArrayInOutputFormat --output=json through Symfony Console', 'recorded' => ['symfony/console' => $version], 'rows' => $rows]);
    exit(0);
}

if ($mode === 'talk') {
    [$spreed, $server, $root, $file] = array_slice($argv, 2, 4);
    autoloadThirdparty(rtrim($root, '/'));
    // Stand-ins for what the commands take from Nextcloud: the app config
    // (IConfig string values and IAppConfig arrays on the same store) and
    // the documentation URL Base::configure asks for.
    eval('namespace OCP { interface IConfig { public function getAppValue($app, $key, $default = ""); public function setAppValue($app, $key, $value); }
        class Defaults { public function getDocBaseUrl(): string { return "https://docs.nextcloud.com"; } }
        class Server { public static function get(string $c) { return new $c(); } } }
        namespace OCP\AppFramework\Services { interface IAppConfig { public function getAppValueArray(string $key, array $default = [], bool $lazy = false): array; public function setAppValueArray(string $key, array $value, bool $lazy = false, bool $sensitive = false): void; } }
        namespace OCA\Talk { class Config { public const STUN_SERVERS = "stun_servers"; public const DEFAULT_STUN_SERVER = "stun.nextcloud.com:443"; } }');
    $store = new class implements OCP\IConfig, OCP\AppFramework\Services\IAppConfig {
        public array $values = [];
        public function getAppValue($app, $key, $default = '') { return $this->values[$key] ?? $default; }
        public function setAppValue($app, $key, $value) { $this->values[$key] = (string)$value; }
        public function getAppValueArray(string $key, array $default = [], bool $lazy = false): array {
            $v = json_decode($this->values[$key] ?? '', true);
            return is_array($v) ? $v : $default;
        }
        public function setAppValueArray(string $key, array $value, bool $lazy = false, bool $sensitive = false): void { $this->values[$key] = json_encode($value); }
    };
    require rtrim($server, '/') . '/core/Command/Base.php';
    $commands = [];
    foreach (['Signaling', 'Turn', 'Stun'] as $group) {
        foreach (['Add', 'Delete', 'ListCommand'] as $name) {
            require rtrim($spreed, '/') . "/lib/Command/$group/$name.php";
            $class = "OCA\\Talk\\Command\\$group\\$name";
            $commands[] = new $class($store);
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
    out($file, ['what' => 'talk:* calls through Talk\'s command classes on an in-memory app config (record.php talk)', 'derived' => true, 'calls' => $calls]);
    exit(0);
}

if ($mode === 'occ') {
    $prefix = $argv[2];
    $run = function (array $args, string $source = '') use ($prefix) {
        $cmd = $prefix . ' ' . implode(' ', array_map('escapeshellarg', $args));
        $p = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        fclose($pipes[0]);
        $stdout = stream_get_contents($pipes[1]);
        $stderr = stream_get_contents($pipes[2]);
        $exit = proc_close($p);
        return ['args' => $args, 'stdout' => $stdout, 'stderr' => $stderr, 'exit' => $exit];
    };
    $calls = [];
    foreach (transcriptSteps() as $args) {
        $calls[] = $run($args);
    }
    out($argv[3], ['what' => 'talk:* calls against a real Nextcloud', 'derived' => false, 'calls' => $calls]);
    exit(0);
}

fwrite(STDERR, "usage: php record.php occ '<occ prefix>' OUT.json | formatter 3RDPARTY_DIR OUT.json | parse_url OUT.json\n");
exit(2);

// The calls of a transcript, in order, from a Talk holding only
// placeholder.invalid:1 as STUN server.
function transcriptSteps(): array {
    return [
        ['talk:signaling:list', '--output=json'],
        ['talk:turn:list', '--output=json'],
        ['talk:stun:list', '--output=json'],
        ['talk:signaling:add', 'https://talk.example.com/standalone-signaling', 'sig<secret', '--verify'],
        ['talk:signaling:add', '--verify', '--', 'https://talk.example.com/standalone-signaling', '-dash-secret'],
        ['talk:signaling:list', '--output=json'],
        ['talk:signaling:delete', 'https://talk.example.com/standalone-signaling/'],
        ['talk:signaling:delete', 'https://talk.example.com/standalone-signaling'],
        ['talk:signaling:list', '--output=json'],
        ['talk:turn:add', 'turn', 'talk.example.com:3478', 'udp,tcp', '--secret=turn\\<secret'],
        ['talk:turn:add', 'turns', 'talk.example.com:5349', 'tcp', '--secret=turn\\<secret'],
        ['talk:turn:add', 'turn', 'talk.example.com:3478', 'udp,tcp', '--secret=other'],
        ['talk:turn:add', 'turn', 'https://Talk.example.com:3478', 'udp', '--secret=s'],
        ['talk:turn:add', 'turn,turns', 'talk.example.com:3478', 'tcp,udp', '--secret=s'],
        ['talk:turn:add', 'stun', 'talk.example.com:3478', 'udp', '--secret=s'],
        ['talk:turn:add', 'turn', ' ', 'udp', '--secret=s'],
        ['talk:turn:add', 'turn', 'talk.example.com:3478', 'tcp'],
        ['talk:turn:list', '--output=json'],
        ['talk:turn:delete', 'turn', 'Talk.example.com:3478', 'udp'],
        ['talk:turn:delete', 'turn', 'talk.example.com:9', 'udp'],
        ['talk:turn:list', '--output=json'],
        ['talk:stun:add', 'talk.example.com:3478'],
        ['talk:stun:add', 'talk.example.com:03478'],
        ['talk:stun:add', '[2001:db8::1]:3478'],
        ['talk:stun:add', 'talk.example.com'],
        ['talk:stun:add', 'talk.example.com:0'],
        ['talk:stun:list', '--output=json'],
        ['talk:stun:delete', 'placeholder.invalid:1'],
        ['talk:stun:delete', 'talk.example.com:3478'],
        ['talk:stun:delete', 'talk.example.com:3478'],
        ['talk:stun:list', '--output=json'],
    ];
}
