// jest-dom's matchers registered on Vitest's own `expect`. Not `@testing-library/jest-dom/vitest`:
// that entry imports `vitest` from jest-dom's folder, which fails in a Backstage app's workspace
// where jest-dom is hoisted to the root and Vitest is not.
import * as matchers from '@testing-library/jest-dom/matchers';
import { cleanup } from '@testing-library/react';
import { afterEach, expect } from 'vitest';

expect.extend(matchers);

// Testing Library unmounts after each test by itself only where `afterEach` is a global.
afterEach(cleanup);
