// Flat ESLint config shared by every workspace (run from each package with `eslint src`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.next/**', '**/dist/**', 'drizzle/**', '**/next-env.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Library code logs through the pino logger it is given, never the console.
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Cross-package imports go through package names and their `exports`, never relative paths.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/packages/*/src/**', '../../packages/**', '../../../packages/**', '**/apps/*/src/**'], message: 'Import other workspaces by package name (DESIGN.md §1).' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/test/**', '**/e2e/**', '**/bench/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
);
