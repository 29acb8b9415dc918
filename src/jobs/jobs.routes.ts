import { z } from '@hono/zod-openapi';
import { defineRoute } from '../http/auth';
import { createRouter } from '../http/router';
import { notFound } from '../lib/errors';
import { jobRunExists, jobRunJson, listJobRuns } from './jobs.service';

const JobRun = z
  .object({
    id: z.string(),
    job: z.string(),
    status: z.enum(['running', 'succeeded', 'failed']),
    trigger: z.enum(['schedule', 'manual']),
    period_start: z.string().openapi({ description: 'Start of the business-time period this run covers' }),
    business_time: z.string(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    duration_ms: z.number().nullable(),
    processed: z.number().nullable(),
    error: z.string().nullable(),
    instance: z.string(),
  })
  .openapi('JobRun');

/** `GET /admin/jobs`: what the scheduled jobs did, on which instance, newest first. */
export function jobRoutes() {
  const app = createRouter();
  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/jobs',
        tags: ['admin', 'jobs'],
        summary: 'List scheduled job runs, newest first (admin)',
        request: {
          query: z.object({
            job: z
              .string()
              .regex(/^[a-z][a-z0-9_.]{0,99}$/, 'must be a job name such as credits.expire')
              .optional(),
            status: z.enum(['running', 'succeeded', 'failed']).optional(),
            trigger: z.enum(['schedule', 'manual']).optional(),
            since: z.iso.datetime({ offset: true }).optional(),
            until: z.iso.datetime({ offset: true }).optional(),
            limit: z.coerce.number().int().min(1).max(100).default(50),
            starting_after: z.uuid().optional(),
          }),
        },
        responses: {
          200: {
            description: 'Job runs',
            content: {
              'application/json': { schema: z.object({ data: z.array(JobRun), has_more: z.boolean() }) },
            },
          },
        },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const db = c.get('deps').db;
      if (q.starting_after && !(await jobRunExists(db, q.starting_after))) {
        throw notFound('Job run', { starting_after: q.starting_after });
      }
      const page = await listJobRuns(db, {
        job: q.job,
        status: q.status,
        trigger: q.trigger,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
        limit: q.limit,
        startingAfter: q.starting_after,
      });
      return c.json({ data: page.data.map(jobRunJson), has_more: page.has_more }, 200);
    },
  );
  return app;
}
