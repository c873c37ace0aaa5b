/**
 * Writes the README's config reference from src/config/schema.json, the one home of every default and
 * description. `--check` writes nothing and exits 1 when the README is stale (CI runs it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface SchemaNode {
  type?: string | string[]
  description?: string
  default?: unknown
  const?: unknown
  enum?: unknown[]
  oneOf?: SchemaNode[]
  $ref?: string
  properties?: Record<string, SchemaNode>
  additionalProperties?: boolean | SchemaNode
  items?: SchemaNode
  required?: string[]
  minimum?: number
  maximum?: number
}

const START = '<!-- config:start -->'
const END = '<!-- config:end -->'
const root = fileURLToPath(new URL('..', import.meta.url))
const schemaPath = `${root}src/config/schema.json`
const readmePath = `${root}README.md`

const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as SchemaNode & { definitions?: Record<string, SchemaNode> }

function deref (node: SchemaNode): SchemaNode {
  if (node.$ref === undefined) return node
  const target = schema.definitions?.[node.$ref.replace('#/definitions/', '')]
  if (target === undefined) throw new Error(`unresolved $ref ${node.$ref}`)
  // The referring node's own description and default win over the definition's.
  const merged: SchemaNode = { ...target, ...node }
  delete merged.$ref
  return merged
}

function describeType (raw: SchemaNode): string {
  const node = deref(raw)
  if (node.const !== undefined) return JSON.stringify(node.const)
  if (node.enum !== undefined) return node.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (node.oneOf !== undefined) return node.oneOf.map(describeType).join(' | ')
  if (node.type === 'array') return `${node.items === undefined ? 'unknown' : describeType(node.items)}[]`
  if (node.type === 'object' && node.properties?.value !== undefined && node.properties.note !== undefined) {
    return `{ value: ${describeType(node.properties.value)}, note?: string }`
  }
  let type = Array.isArray(node.type) ? node.type.join(' | ') : node.type ?? 'unknown'
  if (node.minimum !== undefined || node.maximum !== undefined) type += ` (${node.minimum ?? '…'}–${node.maximum ?? '…'})`
  return type
}

function cell (text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}

function describeDefault (node: SchemaNode, required: boolean): string {
  if (required) return 'required'
  if (node.default === undefined) return ''
  return `\`${JSON.stringify(node.default)}\``
}

function rows (properties: Record<string, SchemaNode>, required: readonly string[], prefix: string, out: string[]): void {
  for (const [name, raw] of Object.entries(properties)) {
    if (name === '$schema' && prefix === '') continue
    const node = deref(raw)
    const key = prefix === '' ? name : `${prefix}.${name}`
    out.push(`| \`${key}\` | ${cell(describeType(raw))} | ${cell(describeDefault(node, required.includes(name)))} | ${cell(node.description ?? '')} |`)
    if (node.properties !== undefined && node.oneOf === undefined) rows(node.properties, node.required ?? [], key, out)
    if (typeof node.additionalProperties === 'object') {
      const extra = deref(node.additionalProperties)
      out.push(`| \`${key}.<name>\` | ${cell(describeType(node.additionalProperties))} |  | ${cell(extra.description ?? 'Any other name: a route switch.')} |`)
    }
    if (node.items?.properties !== undefined) rows(node.items.properties, node.items.required ?? [], `${key}[]`, out)
  }
}

function renderConfigDoc (): string {
  const out = [
    '<!-- Generated from src/config/schema.json by `npm run docs:config`; edit the schema, not this table. -->',
    '',
    '| Key | Type | Default | Description |',
    '|---|---|---|---|'
  ]
  rows(schema.properties ?? {}, schema.required ?? [], '', out)
  return out.join('\n')
}

function spliceSection (readme: string, section: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  const block = `${START}\n${section}\n${END}`
  if (start === -1 || end === -1 || end < start) {
    return `${readme.replace(/\n*$/, '\n')}\n${block}\n`
  }
  return readme.slice(0, start) + block + readme.slice(end + END.length)
}

function main (): void {
  const check = process.argv.includes('--check')
  const section = renderConfigDoc()
  const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : null
  const next = readme === null
    ? `# corral\n\n## Configuration reference\n\n${START}\n${section}\n${END}\n`
    : spliceSection(readme, section)
  if (check) {
    if (readme !== next) {
      console.error('README.md config reference is out of date with src/config/schema.json: run `npm run docs:config` and commit the result.')
      process.exitCode = 1
    }
    return
  }
  if (readme !== next) writeFileSync(readmePath, next)
}

main()
