import { z } from '@hono/zod-openapi';
import { defineRoute } from '../../http/auth';
import { createRouter } from '../../http/router';
import { listUsers, toPublicUser } from '../users/users.service';

const UserList = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      email: z.string(),
      name: z.string().nullable(),
      role: z.string(),
      created_at: z.string(),
    }),
  ),
  has_more: z.boolean(),
});

export function adminRoutes() {
  const app = createRouter();
  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/users',
        tags: ['admin'],
        summary: 'List users (admin)',
        request: {
          query: z.object({
            limit: z.coerce.number().int().min(1).max(100).default(50),
            starting_after: z.uuid().optional(),
          }),
        },
        responses: { 200: { description: 'Users', content: { 'application/json': { schema: UserList } } } },
      },
    ),
    async (c) => {
      const { limit, starting_after } = c.req.valid('query');
      const page = await listUsers(c.get('deps').db, { limit, startingAfter: starting_after });
      return c.json({ data: page.data.map(toPublicUser), has_more: page.has_more }, 200);
    },
  );
  return app;
}
