// Preloaded by bench/gpu/make-kit.sh (`node -r`): when the process exits, writes the files it loaded
// from node_modules (require.cache: JavaScript, JSON and native addons) to $LIST_LOADED, one a line.
const fs = require('node:fs');

process.on('exit', () => {
  const files = Object.keys(require.cache).filter((file) =>
    file.includes(`${require('node:path').sep}node_modules${require('node:path').sep}`),
  );
  fs.writeFileSync(process.env.LIST_LOADED, `${files.join('\n')}\n`);
});
