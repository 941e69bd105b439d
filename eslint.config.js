// ESLint: typescript-eslint's recommended rules plus a few that catch real bugs in this code (promises nobody
// awaits, loose equality, process.exit() in a command). Formatting is Prettier's job, import boundaries
// dependency-cruiser's (.dependency-cruiser.cjs). eslint-config-oclif is not used: it brings @stylistic's
// formatting rules (which fight Prettier) and perfectionist's import/key sorting (a rewrite of every file).
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'test-artifacts/', 'coverage/', 'examples/*/node_modules/']},
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.node,
      // Type information for the promise rules: each file is checked against the tsconfig.json nearest to it
      // (src/, test/, bench/), the way `npm run lint` type-checks them.
      parserOptions: {projectService: {allowDefaultProject: ['vitest.config.ts']}, tsconfigRootDir: import.meta.dirname},
    },
    linterOptions: {reportUnusedDisableDirectives: 'error'},
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Promise.all over known values mixed with promises is deliberate (convert/listing.ts: a prefix known without a LIST).
      '@typescript-eslint/await-thenable': ['error', {allowMixedPromiseArrays: true}],
      // `return promise` inside try/finally would release the lock or storage before the work is done.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_'}],
      // `import('…').T` type annotations stay allowed: the idiom for the types of lazily loaded heavy modules.
      '@typescript-eslint/consistent-type-imports': ['error', {fixStyle: 'inline-type-imports', disallowTypeAnnotations: false}],
      // An async generator cannot be an arrow function, so it reaches its object through `self`.
      '@typescript-eslint/no-this-alias': ['error', {allowedNames: ['self']}],
      eqeqeq: ['error', 'smart'],
      // Off: the control characters in our patterns are the point (printable.ts escapes them, the unit and cron writers refuse them).
      'no-control-regex': 'off',
    },
  },
  {
    // A command ends by returning or throwing: BaseCommand and exitCodeFor decide the exit code, and `finally`
    // blocks (locks, storages) still run. Only bin/ may end the process.
    files: ['src/commands/**', 'src/plugins/**'],
    rules: {
      'no-restricted-properties': ['error', {object: 'process', property: 'exit', message: 'Throw a typed error (errors/errors.ts) or use this.setOutcome(); exitCodeFor decides the exit code.'}],
    },
  },
  {
    // Plain JavaScript (bin/, scripts/, fixtures, the example plugin): no TypeScript-only rules.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {sourceType: 'commonjs'},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
  {
    // Tests read into decoded records and JSON documents of no declared type, and clean up on a best-effort basis
    // (`catch {}` around a kill or a removal); in src/ an empty catch stays an error: it would hide a failure.
    files: ['test/**', 'bench/**'],
    rules: {'@typescript-eslint/no-explicit-any': 'off', 'no-empty': ['error', {allowEmptyCatch: true}]},
  },
)
