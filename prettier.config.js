// Prettier, set to the code as it is written: no semicolons, single quotes, `{a}` without spaces, trailing commas,
// and long lines (220 is the width at which the fewest existing lines change; most are under 200).
/** @type {import('prettier').Config} */
export default {
  semi: false,
  singleQuote: true,
  bracketSpacing: false,
  printWidth: 220,
  trailingComma: 'all',
  arrowParens: 'always',
  overrides: [{files: ['*.yaml', '*.yml'], options: {singleQuote: false}}],
}
