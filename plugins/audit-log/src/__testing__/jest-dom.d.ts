// jest-dom's matchers on Vitest's `expect` (vitest.setup.ts registers them). Inside src so that
// a Backstage app's own `tsc`, which knows nothing of this plugin's setup file, sees them too.
import type { TestingLibraryMatchers } from '@testing-library/jest-dom/matchers';

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Assertion<T = any> extends TestingLibraryMatchers<any, T> {}
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AsymmetricMatchersContaining
    extends TestingLibraryMatchers<any, any> {}
}
