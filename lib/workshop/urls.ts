/** The public addresses of a room and of an attendee's sandbox. */

/** The join link of a room: {origin}/w/{code}. */
export function joinUrl(origin: string, code: string): string {
  return `${origin}/w/${code}`;
}

/** The personal link of an attendee: the join link followed by the link secret. */
export function personalLink(origin: string, code: string, linkSecret: string): string {
  return `${joinUrl(origin, code)}/${linkSecret}`;
}

/** The addresses of a sandbox served under `/s/{id}`. */
export function sandboxUrls(origin: string, sandboxId: string) {
  const base = `${origin}/s/${sandboxId}`;
  return {
    fhirBaseUrl: `${base}/fhir`,
    smartConfigurationUrl: `${base}/fhir/.well-known/smart-configuration`,
    launcherUrl: base,
    consoleUrl: `${base}/console`,
    exercisesUrl: `${base}/console/exercises`,
  };
}
