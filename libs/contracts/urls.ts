/** Where a job's state and its event stream are, as the API's answers link them. */
export function jobUrls(jobId: string): { statusUrl: string; eventsUrl: string } {
  return { statusUrl: `/v1/jobs/${jobId}`, eventsUrl: `/v1/jobs/${jobId}/events` };
}
