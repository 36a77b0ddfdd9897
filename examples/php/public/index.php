<?php
// The front controller: every path that is not a file ends up here.
header('Content-Type: application/json');
header('X-Served-By: php-fpm');

function relationship(string $name): ?array {
    $all = json_decode(base64_decode(getenv('PLATFORM_RELATIONSHIPS') ?: ''), true);
    return $all[$name][0] ?? null;
}

function database(): string {
    $db = relationship('database');
    if ($db === null) {
        return 'no relationship';
    }
    try {
        $pdo = new PDO("mysql:host={$db['host']};port={$db['port']};dbname={$db['path']}",
                       $db['username'], $db['password']);
        return (string) $pdo->query('SELECT VERSION()')->fetchColumn();
    } catch (Throwable $e) {
        return 'error: ' . $e->getMessage();
    }
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/write') {
    // The mount is writable; the code is not.
    $name = preg_replace('/[^a-z0-9.]/', '', $_GET['name'] ?? 'note.txt');
    $ok = @file_put_contents("/app/uploads/$name", $_GET['text'] ?? 'hello') !== false;
    $code = @file_put_contents('/app/public/hacked.txt', 'x') !== false;
    echo json_encode(['mount_written' => $ok, 'code_written' => $code,
                      'code_error' => error_get_last()['message'] ?? null]);
    return;
}
echo json_encode([
    'controller' => 'index.php',
    'path' => $path,
    'script' => $_SERVER['SCRIPT_NAME'],
    'memory_limit' => ini_get('memory_limit'),
    'extensions' => ['redis' => extension_loaded('redis'), 'xsl' => extension_loaded('xsl')],
    'release' => trim(@file_get_contents(__DIR__ . '/../release.txt') ?: ''),
    'project' => getenv('PLATFORM_PROJECT'),
    'database' => database(),
]);
