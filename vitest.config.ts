import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 15000,
    hookTimeout: 15000,
    restoreMocks: true,
    globalSetup: ['test/helpers/global-setup.ts'],
    allowOnly: !process.env.CI
  }
})
