/** The log levels and formats config accepts: a leaf, so the logger and the config types share them without core/ importing config/. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export type LogFormat = 'json' | 'pretty'
