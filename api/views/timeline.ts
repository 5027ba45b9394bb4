/**
 * Timeline activities as the API shows them (SPEC "Activities and the timeline"), and the timeline
 * query every record type's timeline route takes.
 */
import { z } from 'zod';
import { ACTIVITY_STATUSES, ACTIVITY_TYPES, type TimelineFilter } from '../../db/stores/timelineActivities';
import { TIMELINE_VIAS } from '../../db/stores/timelines';
import { csv, isoDateTime, pageOf, paging } from '../schemas';

export const attendeeSchema = z.object({
  type: z.enum(['user', 'contact', 'email']),
  userId: z.uuid().nullable(),
  contactId: z.uuid().nullable(),
  email: z.string().nullable(),
  name: z.string().nullable(),
});

export const activitySchema = z.object({
  id: z.uuid(),
  type: z.enum(ACTIVITY_TYPES),
  regardingType: z.string(),
  regardingId: z.uuid(),
  subject: z.string(),
  body: z.string().nullable(),
  dueAt: isoDateTime().nullable(),
  ownerId: z.uuid().nullable(),
  status: z.enum(ACTIVITY_STATUSES),
  overdue: z.boolean().describe('Open and past its due date'),
  completedAt: isoDateTime().nullable(),
  canceledAt: isoDateTime().nullable(),
  outcome: z.string().nullable(),
  toAddress: z.string().nullable(),
  sentAt: isoDateTime().nullable(),
  messageId: z.string().nullable().describe('Emails sent by the nurture sequence: the Message-ID they went out with'),
  createdBy: z.uuid().nullable(),
  createdByWorkflow: z.string().nullable().describe('The workflow that wrote it, for automated steps'),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
  attendees: z.array(attendeeSchema).describe('Appointments: who attends'),
});

export const timelineEntrySchema = activitySchema.extend({
  via: z.enum(TIMELINE_VIAS).describe('Where it comes from: `self` (about this record), the related record it is about (`regardingType`/`regardingId` name it), or `attendee`'),
});

export const timelineQuery = z.object({
  type: csv(ACTIVITY_TYPES).optional().describe('Comma-separated activity types'),
  status: csv([...ACTIVITY_STATUSES, 'overdue'] as const).optional().describe('Comma-separated: open, completed, canceled, overdue'),
  ...paging,
});

export const timelineResponse = pageOf(timelineEntrySchema);

export function toTimelineFilter(query: z.infer<typeof timelineQuery>): TimelineFilter {
  return { types: query.type, statuses: query.status };
}
