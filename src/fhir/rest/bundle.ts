/**
 * `POST [base]` with a `batch` or `transaction` Bundle (https://hl7.org/fhir/R4/http.html#transaction).
 * Processing is in `../bundles/process.ts`.
 */
import { processBundle } from '../bundles/process';
import type { FhirContext, FhirRequest } from './fhir-request';
import type { FhirResponse } from './respond';

/** `POST [base]` */
export async function bundleHandler(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  const bundle = await processBundle(ctx, req.body, req.headers.prefer);
  return { status: 200, body: bundle as unknown as Record<string, unknown> };
}
