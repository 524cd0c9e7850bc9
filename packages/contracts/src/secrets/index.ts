// The `platform_env_v1` secrets format (spec §9.1): parser, canonical form, data_hash, limits.
export * from "./canonical.ts";
export {
  isSecretsFormatError,
  MAX_REPORTED_PROBLEMS,
  type SecretsErrorCode,
  SecretsFormatError,
  type SecretsProblem,
  type SecretsProblemCode,
} from "./errors.ts";
export * from "./limits.ts";
export * from "./parse.ts";
export {
  BASE64_PREFIX,
  decodeSecretValue,
  decodeStrictBase64,
  encodeSecretValue,
  isPlainRepresentable,
  SECRET_KEY_PATTERN,
  SECRETS_HEADER,
  type ValueResult,
} from "./value.ts";
