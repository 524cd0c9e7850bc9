import { Ajv, type Options } from "ajv";
import type { FastifyInstance, FastifySchema } from "fastify";

const common: Options = { allErrors: true, strict: false, useDefaults: true };
// Bodies are taken as sent: unknown fields are an error (schemas say
// additionalProperties: false), never silently stripped, and "1" is not 1.
const bodies = new Ajv({ ...common, removeAdditional: false, coerceTypes: false });
// Query strings and path parameters are text by nature.
const params = new Ajv({ ...common, removeAdditional: false, coerceTypes: "array" });
for (const ajv of [bodies, params]) ajv.addKeyword("example");

/** Installs the request validators (fastify's defaults strip unknown fields and coerce bodies). */
export function installValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === "body" ? bodies : params).compile(schema as FastifySchema & object),
  );
}
