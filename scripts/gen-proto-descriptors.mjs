// Writes the protobufjs JSON descriptor of each .proto that code decodes by reflection into a
// TypeScript module, so that src/ needs no file access at run time and the .proto stays the only
// schema anyone edits. `npm run build` runs this; test/unit/pkmf-codec.test.ts fails when a
// generated module no longer matches its .proto. Rewrites a module only when its text changes.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const TARGETS = [{ proto: 'proto/pkmf.proto', out: 'src/pkmf/descriptor.generated.ts', name: 'PKMF_PROTO_DESCRIPTOR' }];

for (const { proto, out, name } of TARGETS) {
  const descriptor = protobuf.loadSync(join(root, proto)).toJSON();
  const text =
    `// Generated from ${proto} by ${relative(root, fileURLToPath(import.meta.url))}: edit the .proto, then run\n` +
    `// \`npm run proto:gen\` (or \`npm run build\`).\n` +
    `export const ${name} = ${JSON.stringify(descriptor, null, 2)} as const;\n`;
  const file = join(root, out);
  let old;
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === text) continue;
  // Temp file and rename: parallel builds never leave a half-written module for tsc to read.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  console.log(`wrote ${out}`);
}
