#!/usr/bin/env node
// Compares the package schema our bridge generates (cmd/gen) with the names and shapes the
// @pulumi/docker npm SDK uses: for every resource in the schema, the SDK class with the same
// __pulumiType; its Args (inputs), State and outputs; the provider's ProviderArgs and config
// variables; and every nested type reached from them (types/input.d.ts, types/output.d.ts).
// A property that exists on one side only, or whose shape (scalar, list, map, object type)
// differs, is a mismatch: the SDK would send, or expect back, something the provider does not.
//
//   node check-sdk-names.js SCHEMA_JSON SDK_DIR   (SDK_DIR: node_modules/@pulumi/docker)
//
// Exits 1 on any mismatch. Needs the `typescript` package; it is looked up from SDK_DIR.
'use strict';
const fs = require('fs');
const path = require('path');

const [schemaPath, sdkDir] = process.argv.slice(2);
if (!schemaPath || !sdkDir) {
  console.error('usage: check-sdk-names.js SCHEMA_JSON SDK_DIR');
  process.exit(2);
}
const ts = require(require.resolve('typescript', { paths: [sdkDir] }));
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));

function parse(file) {
  const text = fs.readFileSync(path.join(sdkDir, file), 'utf8');
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
}

// Shape of a TypeScript type node, in the same notation as schemaShape below.
function tsShape(node) {
  if (!node) return '?';
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword: return 'string';
    case ts.SyntaxKind.NumberKeyword: return 'number';
    case ts.SyntaxKind.BooleanKeyword: return 'boolean';
    case ts.SyntaxKind.AnyKeyword: return 'any';
    case ts.SyntaxKind.ParenthesizedType: return tsShape(node.type);
    case ts.SyntaxKind.ArrayType: return `list<${tsShape(node.elementType)}>`;
    case ts.SyntaxKind.UnionType: {
      const parts = node.types.filter(
        (t) => t.kind !== ts.SyntaxKind.UndefinedKeyword &&
          !(t.kind === ts.SyntaxKind.LiteralType && t.literal.kind === ts.SyntaxKind.NullKeyword));
      return parts.length === 1 ? tsShape(parts[0]) : parts.map(tsShape).join('|');
    }
    case ts.SyntaxKind.TypeLiteral: {
      const idx = node.members.find((m) => m.kind === ts.SyntaxKind.IndexSignature);
      if (idx) return `map<${tsShape(idx.type)}>`;
      return 'object';
    }
    case ts.SyntaxKind.TypeReference: {
      const name = node.typeName.getText();
      if (name === 'pulumi.Input' || name === 'pulumi.Output') return tsShape(node.typeArguments[0]);
      if (name === 'pulumi.asset.Archive' || name === 'pulumi.asset.Asset') return name;
      const m = /^(?:inputs|outputs)\.(.+)$/.exec(name);
      if (m) return `ref:${m[1].split('.').pop()}`;
      return `ref:${name}`;
    }
    default:
      return ts.SyntaxKind[node.kind];
  }
}

// Type name as the nodejs code generator spells it (it title-cases the token's last part).
const typeName = (token) => {
  const n = token.split(':').pop();
  return n.charAt(0).toUpperCase() + n.slice(1);
};

function schemaShape(p) {
  if (p.$ref) {
    if (p.$ref === 'pulumi.json#/Any') return 'any';
    if (p.$ref === 'pulumi.json#/Archive') return 'pulumi.asset.Archive';
    if (p.$ref === 'pulumi.json#/Asset') return 'pulumi.asset.Asset';
    return `ref:${typeName(p.$ref)}`;
  }
  switch (p.type) {
    case 'integer': case 'number': return 'number';
    case 'string': case 'boolean': return p.type;
    case 'array': return `list<${schemaShape(p.items)}>`;
    case 'object': return p.additionalProperties ? `map<${schemaShape(p.additionalProperties)}>` : 'map<any>';
    default: return `?${p.type}`;
  }
}

// Members of an interface (or class: readonly outputs) as name -> {shape, optional}.
function members(decl) {
  const out = {};
  for (const m of decl.members) {
    if (m.kind !== ts.SyntaxKind.PropertySignature && m.kind !== ts.SyntaxKind.PropertyDeclaration) continue;
    if (m.modifiers && m.modifiers.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) continue;
    const name = m.name.getText();
    out[name] = { shape: tsShape(m.type), optional: !!m.questionToken };
  }
  return out;
}

function findDecl(sf, name, kind) {
  let found;
  sf.forEachChild((n) => {
    if (n.kind === kind && n.name && n.name.getText() === name) found = n;
  });
  return found;
}

// Nested SDK types, by name. Names are unique across the module namespaces in @pulumi/docker.
function typeIndex(file) {
  const idx = {};
  const walk = (n) => {
    if (n.kind === ts.SyntaxKind.InterfaceDeclaration) idx[n.name.getText()] = n;
    n.forEachChild(walk);
  };
  walk(parse(file));
  return idx;
}
const sdkTypes = { input: typeIndex('types/input.d.ts'), output: typeIndex('types/output.d.ts') };

const problems = [];
const visited = new Set();

function compare(where, schemaProps, sdkProps, direction) {
  schemaProps = schemaProps || {};
  for (const [name, p] of Object.entries(schemaProps)) {
    const s = sdkProps[name];
    if (!s) { problems.push(`${where}.${name}: in the bridge's schema, not in the SDK`); continue; }
    const shape = schemaShape(p);
    if (shape !== s.shape) problems.push(`${where}.${name}: bridge ${shape}, SDK ${s.shape}`);
    followRefs(p, direction);
  }
  for (const name of Object.keys(sdkProps)) {
    if (!(name in schemaProps)) problems.push(`${where}.${name}: in the SDK, not in the bridge's schema`);
  }
}

function followRefs(p, direction) {
  if (!p) return;
  if (p.items) followRefs(p.items, direction);
  if (p.additionalProperties) followRefs(p.additionalProperties, direction);
  if (!p.$ref || !p.$ref.startsWith('#/types/')) return;
  const token = p.$ref.slice('#/types/'.length);
  const key = `${direction}:${token}`;
  if (visited.has(key)) return;
  visited.add(key);
  const name = typeName(token);
  const decl = sdkTypes[direction][name];
  const where = `${direction} type ${name}`;
  if (!decl) { problems.push(`${where}: no such interface in the SDK`); return; }
  compare(where, schema.types[token].properties, members(decl), direction);
}

// Resources: SDK class by __pulumiType.
const classByToken = {};
for (const f of fs.readdirSync(sdkDir)) {
  if (!f.endsWith('.js')) continue;
  const m = /static __pulumiType = '([^']+)'/.exec(fs.readFileSync(path.join(sdkDir, f), 'utf8'));
  if (m) classByToken[m[1]] = f.replace(/\.js$/, '');
}

for (const [token, res] of Object.entries(schema.resources || {})) {
  const file = classByToken[token];
  if (!file) { problems.push(`${token}: no SDK class with this __pulumiType`); continue; }
  const sf = parse(`${file}.d.ts`);
  const cls = token.split(':').pop();
  const args = findDecl(sf, `${cls}Args`, ts.SyntaxKind.InterfaceDeclaration);
  const state = findDecl(sf, `${cls}State`, ts.SyntaxKind.InterfaceDeclaration);
  const klass = findDecl(sf, cls, ts.SyntaxKind.ClassDeclaration);
  compare(`${cls} input`, res.inputProperties, args ? members(args) : {}, 'input');
  compare(`${cls} state`, res.stateInputs && res.stateInputs.properties, state ? members(state) : {}, 'input');
  const outs = members(klass);
  compare(`${cls} output`, res.properties, outs, 'output');
  // Requiredness of inputs: the SDK rejects a missing required input before the engine sees it;
  // the other way round the provider would reject what the SDK let through.
  const req = new Set(res.requiredInputs || []);
  for (const [name, s] of Object.entries(args ? members(args) : {})) {
    if (!s.optional && !req.has(name)) problems.push(`${cls} input.${name}: required in the SDK, optional in the bridge`);
    if (s.optional && req.has(name)) problems.push(`${cls} input.${name}: optional in the SDK, required in the bridge`);
  }
}

// Provider arguments and config variables.
{
  const sf = parse('provider.d.ts');
  compare('Provider input', schema.provider.inputProperties, members(findDecl(sf, 'ProviderArgs', ts.SyntaxKind.InterfaceDeclaration)), 'input');
  const vars = {};
  const cf = parse('config/vars.d.ts');
  cf.forEachChild((n) => {
    if (n.kind !== ts.SyntaxKind.VariableStatement) return;
    for (const d of n.declarationList.declarations) vars[d.name.getText()] = { shape: tsShape(d.type), optional: true };
  });
  compare('config', schema.config.variables, vars, 'output');
}

for (const p of problems) console.log(p);
console.log(`${Object.keys(schema.resources || {}).length} resources, ${visited.size} nested types compared: ${problems.length} mismatch(es)`);
process.exit(problems.length ? 1 : 0);
